// The capture's shadow-testing sink for JavaScript (shadow.cc): options in, exchange batches and
// counters out. NativeCapture (capture.cc) owns the sink beside its other sinks.
#pragma once

#include <napi.h>

#include <memory>

#include "shadow/shadow_consumer.h"

namespace podspan_addon {

// ShadowCaptureOptions (src/capture/session.ts): {protocol: 'http'|'raw', serverPorts, methods,
// percent, maxBodyBytes, maxRequestBytes, maxBytes?, flushMs?, queueBatches?, maxFlows?,
// flowTimeoutSeconds?}; a file waits for JS, live capture drops whole batches (counted).
std::shared_ptr<podspan::ShadowConsumer> make_shadow(const Napi::Object& options, bool reading_file);
// {meta, data}: Buffers (meta: JSON lines; data: the bytes their [off, len] pairs point at).
Napi::Object exchange_batch_object(Napi::Env env, const podspan::ExchangeBatch& batch);
// {connections, exchanges, skipped: {REASON: N}, droppedBatches, batches, packets, streams, gapBytes}
Napi::Object shadow_stats_object(Napi::Env env, const podspan::ShadowStats& s);

}  // namespace podspan_addon
