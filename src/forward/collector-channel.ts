// How a grpc-js client reaches a collector named by a grpc:// target: address, TLS credentials,
// channel options and the bearer token's metadata, from the files mirror-target.ts reads (the
// agent's own Mirror.Stream takes them from there without grpc-js).
import * as grpc from '@grpc/grpc-js';
import type { GrpcTarget } from '../config/forward-options';
import { channelOptions } from './mirror-service';
import { readTargetFiles } from './mirror-target';
import { routeGrpcLogs } from '../observability/grpc-logs';

export interface CollectorChannel {
  address: string;
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
  metadata: grpc.Metadata;
}

export function collectorChannel(target: GrpcTarget): CollectorChannel {
  routeGrpcLogs();
  const files = readTargetFiles(target);
  let credentials = grpc.credentials.createInsecure();
  let options: grpc.ChannelOptions = { ...channelOptions };
  const metadata = new grpc.Metadata();
  if (files.tls) {
    credentials = grpc.credentials.createSsl(files.tls.ca, files.tls.key, files.tls.cert);
    if (files.tls.serverName) options = { ...options, 'grpc.ssl_target_name_override': files.tls.serverName };
  }
  if (files.authorization) metadata.set('authorization', files.authorization);
  const address = target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
  return { address, credentials, options, metadata };
}
