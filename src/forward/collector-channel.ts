// How a client reaches a collector named by a grpc:// target: address, TLS credentials, channel
// options and the bearer token's metadata. Files (CA, key, certificate, token) are read here, once;
// a file that cannot be read is a ForwardError naming the target.
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { GrpcTarget } from '../config/forward-options';
import { ForwardError } from '../errors';
import { channelOptions } from './mirror-service';

export interface CollectorChannel {
  address: string;
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
  metadata: grpc.Metadata;
}

export function collectorChannel(target: GrpcTarget): CollectorChannel {
  let credentials = grpc.credentials.createInsecure();
  let options: grpc.ChannelOptions = { ...channelOptions };
  const metadata = new grpc.Metadata();
  try {
    if (target.tls) {
      const read = (f?: string) => (f ? fs.readFileSync(f) : null);
      credentials = grpc.credentials.createSsl(read(target.tls.ca), read(target.tls.key), read(target.tls.cert));
      if (target.tls.serverName) options = { ...options, 'grpc.ssl_target_name_override': target.tls.serverName };
    }
    if (target.tokenFile) metadata.set('authorization', `Bearer ${fs.readFileSync(target.tokenFile, 'utf8').trim()}`);
  } catch (err) {
    throw new ForwardError(`${target.url}: ${(err as Error).message}`);
  }
  const address = target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
  return { address, credentials, options, metadata };
}
