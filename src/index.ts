export { CaptureSession, listInterfaces, libpcapVersion } from './capture/session';
export type { CaptureOptions, CaptureResult, CaptureSource, InterfaceStats, OutputOptions } from './capture/session';
export { PacketBatch } from './capture/batch';
export * from './errors';
export { formatFromPath, type CaptureFormat } from './pcap/format';
export { readRecords, type CaptureRecords } from './analysis/native-records';
export { StreamEventBatch } from './reassembly/stream-events';
export { readExchanges, parseExchangeBatch, type CaptureExchanges, type ExchangeLine } from './shadow/native-exchanges';
