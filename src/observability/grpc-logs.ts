// grpc-js prints its own errors on the console ("E No address added out of total 1 resolved")
// beside the one line podspan writes about the same failure with its context. Unless the user
// asks for them (GRPC_VERBOSITY, GRPC_NODE_VERBOSITY: grpc-js's own switches), they go to the
// structured log at debug level instead.
import * as grpc from '@grpc/grpc-js';
import { logger } from './logger';

let routed = false;

export function routeGrpcLogs(env: NodeJS.ProcessEnv = process.env): void {
  if (routed || env.GRPC_VERBOSITY !== undefined || env.GRPC_NODE_VERBOSITY !== undefined) return;
  routed = true;
  const log = logger.child({ component: 'grpc-js' });
  grpc.setLogger({ error: (...args: unknown[]) => log.debug(args.map(String).join(' ')) } as Partial<Console> as Console);
}
