// The capture's analytics sink for JavaScript (analysis.cc): options in, record batches and
// counters out. NativeCapture (capture.cc) owns the sink beside its other sinks.
#pragma once

#include <napi.h>

#include <memory>

#include "analysis/record_queue.h"

namespace podspan_addon {

// {flowTimeoutSeconds?, maxFlows?, maxBytes?, queueBatches?, flushMs?, connectionsOnly?, detect?}; a file waits for
// JS, live capture never blocks (records dropped and counted). detect: README.md, Detection.
std::shared_ptr<podspan::AnalysisConsumer> make_analysis(const Napi::Object& options, bool reading_file);
// {flows, http, dns, alerts}: Buffers of complete JSON lines, {flowRows, httpRows, dnsRows}: one
// fixed row per line (analysis/record_rows.h), plus {flowCount, httpCount, dnsCount, alertCount}.
Napi::Object record_batch_object(Napi::Env env, const podspan::RecordBatch& batch);
// The oldest batch written in place into the Buffers `scratch` holds under those seven names (a
// Buffer too small, or missing, is replaced there by a larger one), or null when none is ready.
// Returns {flows, http, dns, alerts, flowRows, httpRows, dnsRows}: the bytes written at the
// start of each, plus the four counts. Nothing is copied; JavaScript must be done with the
// Buffers' contents before the next take.
Napi::Value take_records_into(Napi::Env env, podspan::AnalysisConsumer& analysis, Napi::Object scratch);
// {records: {flows, http, dns, alerts}, batches, droppedRecords, app, appCounters: {httpRequests, ...},
// packets, tcpPackets, udpDnsDatagrams, streams, gapBytes, detect?: {alertsFired, alertsCleared,
// activeAlerts, keys: {servers, routes, sources, pairs}, evicted: {...}, targetsSaturated}}
Napi::Object analysis_stats_object(Napi::Env env, const podspan::AnalysisStats& s);

}  // namespace podspan_addon
