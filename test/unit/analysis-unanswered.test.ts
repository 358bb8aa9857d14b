// Requests without a response as the native lines write them: HTTP "status":null and DNS
// "rcode":null,"rcode_name":null (json_records.cc), not the 0 and -1 of the hand-made fixtures.
// They count as unanswered, with no code: not as answered with code "null".
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../src/analysis/aggregate';
import { AnalyticsMetrics } from '../../src/analysis/metrics';
import { RecordPipeline } from '../../src/analysis/pipeline';

const ends = '"ts":"2026-11-28T10:00:00.000000000Z","client":"10.1.0.9","client_port":40000,"server":"10.1.0.2","server_port":8080';
const http = (status: string) =>
  `{"uid":"C1",${ends},"version":"1.1","stream_id":0,"method":"GET","host":null,"path":"/a","route":"/a","status":${status},"grpc_status":null,"request_bytes":40,"response_bytes":0,"latency_ms":null,"duration_ms":null,"note":"no_response"}\n`;
const dns = (rcode: string, name: string) =>
  `{"uid":null,${ends},"proto":"udp","trans_id":7,"query":"a.example","qtype":1,"qtype_name":"A","rcode":${rcode},"rcode_name":${name},"answers":0,"latency_ms":null}\n`;

describe('unanswered requests as the native lines write them', () => {
  it('count as unanswered in the summary and as "none" in the metrics', async () => {
    const aggregator = new Aggregator();
    const registry = new Registry();
    const metrics = new AnalyticsMetrics(registry, { maxServers: 10, maxRoutesPerServer: 10 });
    new RecordPipeline({ aggregator, metrics }).take({
      flows: Buffer.alloc(0),
      http: Buffer.from(http('null') + http('200')),
      dns: Buffer.from(dns('null', 'null') + dns('0', '"NOERROR"')),
    });
    const routes = aggregator.summary().servers[0]!.routes;
    expect(routes.map((r) => [r.protocol, r.route, r.requests, r.unanswered, r.codes])).toEqual([
      ['http', '/a', 2, 1, { '200': 1 }],
      ['dns', 'a.example', 2, 1, { NOERROR: 1 }],
    ]);
    const values = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels, v.value]);
    expect(await values('podspan_dns_requests_total')).toEqual([
      [{ rcode: 'none' }, 1],
      [{ rcode: 'NOERROR' }, 1],
    ]);
    expect((await values('podspan_http_requests_total')).map(([l, v]) => [(l as { code: string }).code, v])).toEqual([
      ['none', 1],
      ['200', 1],
    ]);
  });
});
