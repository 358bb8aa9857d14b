// How a client reaches a collector named by a grpc:// target: address, TLS credentials, channel
// options and the bearer token's metadata (grpc-js), or the same for the agent's own HTTP/2
// Mirror.Stream (mirror-stream.ts). Files (CA, key, certificate, token) are read here, once; a
// file that cannot be read is a ForwardError naming the target.
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { GrpcTarget } from '../config/forward-options';
import { ForwardError } from '../errors';
import { channelOptions } from './mirror-service';
import type { MirrorStreamTarget } from './mirror-stream';

export interface CollectorChannel {
  address: string;
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
  metadata: grpc.Metadata;
}

interface TargetFiles {
  tls?: { ca: Buffer | null; key: Buffer | null; cert: Buffer | null; serverName?: string };
  authorization?: string;
}

function readTargetFiles(target: GrpcTarget): TargetFiles {
  const read = (f?: string) => (f ? fs.readFileSync(f) : null);
  try {
    const tls = target.tls && { ca: read(target.tls.ca), key: read(target.tls.key), cert: read(target.tls.cert), serverName: target.tls.serverName };
    const authorization = target.tokenFile ? `Bearer ${fs.readFileSync(target.tokenFile, 'utf8').trim()}` : undefined;
    return { tls, authorization };
  } catch (err) {
    throw new ForwardError(`${target.url}: ${(err as Error).message}`);
  }
}

export function collectorChannel(target: GrpcTarget): CollectorChannel {
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

/** The agent's Mirror.Stream to `target`, with the window and keepalive of channelOptions. */
export function mirrorStreamTarget(target: GrpcTarget): MirrorStreamTarget {
  const files = readTargetFiles(target);
  return {
    host: target.host,
    port: target.port,
    tls: files.tls,
    headers: files.authorization ? { authorization: files.authorization } : {},
    windowBytes: channelOptions['grpc-node.flow_control_window'] as number,
    keepaliveMs: channelOptions['grpc.keepalive_time_ms'] as number,
    keepaliveTimeoutMs: channelOptions['grpc.keepalive_timeout_ms'] as number,
  };
}
