// The gRPC service podspan.v1.Mirror as grpc-js sees it. Batches cross as bytes the agent
// encoded itself (encodeFrameBatch) and the collector decodes itself (decodeFrameBatch), so each
// side controls the cost and the collector answers a malformed batch with its own status.
import * as grpc from '@grpc/grpc-js';
import { decodeAck, encodeAck, type Ack } from './frame-batch';
import { KEEPALIVE_MS, KEEPALIVE_TIMEOUT_MS, STREAM_WINDOW_BYTES } from './mirror-target';

const identity = (b: Buffer) => b;

export const mirrorService = {
  stream: {
    path: '/podspan.v1.Mirror/Stream',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: (a: Ack) => encodeAck(a),
    responseDeserialize: (b: Buffer) => decodeAck(b),
    originalName: 'Stream',
  },
} satisfies grpc.ServiceDefinition;

export const MirrorClient = grpc.makeGenericClientConstructor(mirrorService, 'Mirror');

/** Settings for long-lived streams of large messages (grpc-js's 64 KiB window is too small). */
export const channelOptions: grpc.ChannelOptions = {
  'grpc-node.flow_control_window': STREAM_WINDOW_BYTES,
  'grpc.max_send_message_length': 64 << 20,
  'grpc.max_receive_message_length': 64 << 20,
  'grpc.keepalive_time_ms': KEEPALIVE_MS,
  'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.max_pings_without_data': 0,
};
