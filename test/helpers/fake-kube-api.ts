// A fake Kubernetes API server speaking the real wire format, for driving @kubernetes/client-node
// in tests: lists (PodList with metadata.resourceVersion, field selector spec.nodeName) and watches
// (chunked newline-delimited JSON events, replayed from a resourceVersion like the API server's
// watch cache, kept open until the test changes something or closes them). One resourceVersion
// counter for everything, like etcd. Tests can bookmark, expire (410 Gone) in both forms, make
// requests fail, stop listening (connection refused) and remove the podspan.io CRDs (404). Serves
// pods, MirrorSessions, ClusterMirrorSessions (cluster-scoped) and Secrets.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';

type Resource = 'pods' | 'mirrorsessions' | 'clustermirrorsessions' | 'secrets';
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
type KubeObject = { metadata: { name: string; namespace: string; uid: string; resourceVersion: string; [k: string]: unknown }; [k: string]: any };

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  watch: boolean;
  resource: Resource | undefined;
  status: number;
  authorization: string | undefined;
  at: number;
}

interface HistoryEvent {
  resource: Resource;
  type: EventType;
  object: KubeObject;
  /** The object before a MODIFIED (to turn it into ADDED/DELETED for a field selector, as the server does). */
  previous?: KubeObject;
  rv: number;
}

interface OpenWatch {
  resource: Resource;
  res: http.ServerResponse;
  matches: (obj: KubeObject) => boolean;
  bookmarks: boolean;
}

interface PlannedFailure {
  status: number;
  resource?: Resource;
  watch?: boolean;
}

/** How a too-old resourceVersion is answered: a 200 watch with an ERROR event (current API servers), or HTTP 410. */
export type ExpiryForm = 'event' | 'http';

const PATHS: Record<string, Resource> = {
  '/api/v1/pods': 'pods',
  '/apis/podspan.io/v1alpha1/mirrorsessions': 'mirrorsessions',
  '/apis/podspan.io/v1alpha1/clustermirrorsessions': 'clustermirrorsessions',
  '/api/v1/secrets': 'secrets',
};
const CLUSTER_SCOPED: Resource[] = ['clustermirrorsessions'];
const LIST_KIND: Record<Resource, { kind: string; apiVersion: string; itemKind: string }> = {
  pods: { kind: 'PodList', apiVersion: 'v1', itemKind: 'Pod' },
  mirrorsessions: { kind: 'MirrorSessionList', apiVersion: 'podspan.io/v1alpha1', itemKind: 'MirrorSession' },
  clustermirrorsessions: { kind: 'ClusterMirrorSessionList', apiVersion: 'podspan.io/v1alpha1', itemKind: 'ClusterMirrorSession' },
  secrets: { kind: 'SecretList', apiVersion: 'v1', itemKind: 'Secret' },
};

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  /** false: /apis/podspan.io/... answers 404 as when the CRDs are not installed. */
  crdInstalled = true;

  private rv = 100;
  /** Watches from a resourceVersion older than this are answered 410 Gone. */
  private compactedRv = 0;
  private expiryForm: ExpiryForm = 'event';
  private readonly objects: Record<Resource, Map<string, KubeObject>> = { pods: new Map(), mirrorsessions: new Map(), clustermirrorsessions: new Map(), secrets: new Map() };
  private readonly history: HistoryEvent[] = [];
  private readonly watches = new Set<OpenWatch>();
  private readonly failures: PlannedFailure[] = [];
  private readonly server: http.Server;
  private listenPort = 0;

  private constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  static async start(): Promise<FakeKubeApi> {
    const api = new FakeKubeApi();
    await api.listen(0);
    return api;
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.listenPort}`;
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  // ---- pods ----

  addPod(pod: object): KubeObject {
    return this.put('pods', pod, 'ADDED');
  }

  updatePod(pod: object): KubeObject {
    return this.put('pods', pod, 'MODIFIED');
  }

  deletePod(name: string, namespace = 'default'): void {
    this.remove('pods', name, namespace);
  }

  // ---- MirrorSessions ----

  addSession(session: { name: string; namespace?: string; spec: unknown }): KubeObject {
    return this.put('mirrorsessions', sessionObject(session), 'ADDED');
  }

  updateSession(session: { name: string; namespace?: string; spec: unknown }): KubeObject {
    return this.put('mirrorsessions', sessionObject(session), 'MODIFIED');
  }

  deleteSession(name: string, namespace = 'default'): void {
    this.remove('mirrorsessions', name, namespace);
  }

  // ---- ClusterMirrorSessions and Secrets ----

  addClusterSession(session: { name: string; spec: unknown }): KubeObject {
    return this.put('clustermirrorsessions', { apiVersion: 'podspan.io/v1alpha1', kind: 'ClusterMirrorSession', metadata: { name: session.name }, spec: session.spec }, 'ADDED');
  }

  deleteClusterSession(name: string): void {
    this.remove('clustermirrorsessions', name, '');
  }

  /** A Secret with `data` (given as text, served base64-encoded as the API server does). */
  putSecret(secret: { name: string; namespace: string; data: Record<string, string> }): KubeObject {
    const data = Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    const exists = this.objects.secrets.has(`${secret.namespace}/${secret.name}`);
    return this.put('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret.name, namespace: secret.namespace }, type: 'Opaque', data }, exists ? 'MODIFIED' : 'ADDED');
  }

  // ---- watch control ----

  /** A BOOKMARK with the current resourceVersion to every open watch that asked for bookmarks; returns it. */
  bookmark(): string {
    const resourceVersion = String(this.rv);
    for (const w of this.watches) {
      if (!w.bookmarks) continue;
      const { apiVersion, itemKind } = LIST_KIND[w.resource];
      send(w.res, { type: 'BOOKMARK', object: { kind: itemKind, apiVersion, metadata: { resourceVersion } } });
    }
    return resourceVersion;
  }

  /** Writes that touch no watched object (other resources, other nodes) still move the resourceVersion. */
  advanceResourceVersion(by = 1): string {
    this.rv += by;
    return String(this.rv);
  }

  /**
   * Compacts the history: every resourceVersion handed out so far becomes too old. 'event': open
   * watches get an ERROR event (Status 410 Expired) and are closed, and later watches from an old
   * resourceVersion get the same; 'http': open watches are just closed and later watches from an
   * old resourceVersion are answered HTTP 410.
   */
  expireWatches(form: ExpiryForm = 'event'): void {
    this.rv += 1;
    this.compactedRv = this.rv;
    this.expiryForm = form;
    for (const w of [...this.watches]) {
      if (form === 'event') send(w.res, { type: 'ERROR', object: expiredStatus(this.compactedRv) });
      this.endWatch(w);
    }
  }

  /** Ends every open watch cleanly (as the server does at timeoutSeconds); clients watch again. */
  closeWatches(): void {
    for (const w of [...this.watches]) this.endWatch(w);
  }

  get openWatches(): number {
    return this.watches.size;
  }

  /** The next `count` matching requests are answered with `status` (a Status body). */
  failNext(count: number, status: number, match: { resource?: Resource; watch?: boolean } = {}): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, ...match });
  }

  /** Stops accepting connections and drops open ones: clients see connection refused. */
  async stopListening(): Promise<void> {
    for (const w of [...this.watches]) this.watches.delete(w);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Listens again on the same port. */
  async startListening(): Promise<void> {
    await this.listen(this.listenPort);
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await this.stopListening();
  }

  /** The recorded watch requests for a resource (to check the resourceVersion each started from). */
  watchRequests(resource: Resource = 'pods'): RecordedRequest[] {
    return this.requests.filter((r) => r.watch && r.resource === resource);
  }

  listRequests(resource: Resource = 'pods'): RecordedRequest[] {
    return this.requests.filter((r) => !r.watch && r.resource === resource);
  }

  // ---- internals ----

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.listenPort = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private put(resource: Resource, input: object, type: EventType): KubeObject {
    const obj = structuredClone(input) as KubeObject;
    obj.metadata = { ...(obj.metadata ?? {}) } as KubeObject['metadata'];
    if (CLUSTER_SCOPED.includes(resource)) delete (obj.metadata as Partial<KubeObject['metadata']>).namespace;
    else obj.metadata.namespace ||= 'default';
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const previous = this.objects[resource].get(key);
    if (type === 'ADDED' && previous) throw new Error(`fake API: ${resource} ${key} exists`);
    if (type === 'MODIFIED' && !previous) throw new Error(`fake API: ${resource} ${key} does not exist`);
    obj.metadata.uid = previous?.metadata.uid ?? obj.metadata.uid ?? randomUUID();
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects[resource].set(key, obj);
    this.publish({ resource, type, object: obj, previous, rv: this.rv });
    return structuredClone(obj);
  }

  private remove(resource: Resource, name: string, namespace: string): void {
    const key = `${namespace}/${name}`;
    const previous = this.objects[resource].get(key);
    if (!previous) throw new Error(`fake API: ${resource} ${key} does not exist`);
    this.objects[resource].delete(key);
    const obj = structuredClone(previous);
    obj.metadata.resourceVersion = String(++this.rv);
    this.publish({ resource, type: 'DELETED', object: obj, rv: this.rv });
  }

  private publish(event: HistoryEvent): void {
    this.history.push(event);
    for (const w of this.watches) if (w.resource === event.resource) this.deliver(w, event);
  }

  /** Sends an event as a watch with a field selector sees it. */
  private deliver(w: OpenWatch, e: HistoryEvent): void {
    const now = w.matches(e.object);
    const before = e.type === 'MODIFIED' && e.previous ? w.matches(e.previous) : e.type === 'DELETED' ? now : false;
    let type: EventType | undefined;
    if (e.type === 'ADDED') type = now ? 'ADDED' : undefined;
    else if (e.type === 'DELETED') type = before ? 'DELETED' : undefined;
    else type = now && before ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined;
    if (type) send(w.res, { type, object: e.object });
  }

  private endWatch(w: OpenWatch): void {
    this.watches.delete(w);
    w.res.end();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const resource = PATHS[url.pathname];
    const watch = query.watch === 'true' || query.watch === '1';
    const record: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query, watch, resource, status: 200, authorization: req.headers.authorization, at: Date.now() };
    this.requests.push(record);
    const fail = (status: number, reason: string, message: string): void => {
      record.status = status;
      sendJson(res, status, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code: status });
    };

    if (req.method !== 'GET' || !resource || (url.pathname.startsWith('/apis/podspan.io/') && !this.crdInstalled)) {
      return fail(404, 'NotFound', 'the server could not find the requested resource');
    }
    const failureIndex = this.failures.findIndex((f) => (f.resource === undefined || f.resource === resource) && (f.watch === undefined || f.watch === watch));
    if (failureIndex >= 0) {
      const [failure] = this.failures.splice(failureIndex, 1);
      return fail(failure.status, 'InternalError', `planned failure ${failure.status}`);
    }
    let matches: (obj: KubeObject) => boolean;
    try {
      matches = fieldSelectorMatcher(query.fieldSelector);
    } catch (err) {
      return fail(400, 'BadRequest', (err as Error).message);
    }
    if (!watch) {
      const { kind, apiVersion } = LIST_KIND[resource];
      const items = [...this.objects[resource].values()].filter(matches);
      return sendJson(res, 200, { kind, apiVersion, metadata: { resourceVersion: String(this.rv) }, items });
    }

    const from = query.resourceVersion ?? '';
    const fromRv = Number(from);
    if (from !== '' && from !== '0' && fromRv < this.compactedRv) {
      if (this.expiryForm === 'http') return fail(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`);
      record.status = 200;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      send(res, { type: 'ERROR', object: expiredStatus(this.compactedRv, from) });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: OpenWatch = { resource, res, matches, bookmarks: query.allowWatchBookmarks === 'true' };
    if (from === '' || from === '0') {
      // No resourceVersion: the current state as synthetic ADDED events, then changes.
      for (const obj of this.objects[resource].values()) if (matches(obj)) send(res, { type: 'ADDED', object: obj });
    } else {
      for (const e of this.history) if (e.resource === resource && e.rv > fromRv) this.deliver(w, e);
    }
    this.watches.add(w);
    res.on('close', () => this.watches.delete(w));
  }
}

/** A pod as the API server returns it, with what PodInfo reads. */
export function makePod(
  name: string,
  opts: { node?: string; namespace?: string; labels?: Record<string, string>; ips?: string[]; podIP?: string; hostNetwork?: boolean; phase?: string; ports?: Array<number | { port: number; protocol: string }> } = {},
): object {
  const ips = opts.ips ?? ['10.244.0.10'];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: opts.namespace ?? 'default', labels: opts.labels ?? { app: name } },
    spec: {
      nodeName: opts.node ?? 'node-a',
      hostNetwork: opts.hostNetwork ?? false,
      containers: [{ name: 'main', image: 'example/app:1', ports: (opts.ports ?? []).map((p) => (typeof p === 'number' ? { containerPort: p, protocol: 'TCP' } : { containerPort: p.port, protocol: p.protocol })) }],
    },
    status: { phase: opts.phase ?? 'Running', podIP: opts.podIP ?? ips[0], podIPs: opts.podIP ? undefined : ips.map((ip) => ({ ip })) },
  };
}

/**
 * A kubeconfig file for `api` (plain http, a bearer token); returns its path. The client refuses
 * http:// servers unless insecure-skip-tls-verify is set (config.js: "HTTP protocol is not allowed").
 */
export function writeKubeconfig(api: FakeKubeApi, dir = os.tmpdir()): string {
  const file = path.join(dir, `podspan-kubeconfig-${process.pid}-${randomUUID().slice(0, 8)}.yaml`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'tester', user: { token: 'fake-token' } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'tester' } }],
    'current-context': 'fake',
  };
  fs.writeFileSync(file, toYaml(config));
  return file;
}

function sessionObject(s: { name: string; namespace?: string; spec: unknown }): object {
  return { apiVersion: 'podspan.io/v1alpha1', kind: 'MirrorSession', metadata: { name: s.name, namespace: s.namespace ?? 'default' }, spec: s.spec };
}

function expiredStatus(compactedRv: number, from?: string): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: from ? `too old resource version: ${from} (${compactedRv})` : 'The resourceVersion for the provided watch is too old.',
    reason: 'Expired',
    code: 410,
  };
}

/** spec.nodeName=X / spec.nodeName==X / spec.nodeName!=X, comma-separated; other fields are rejected (400). */
function fieldSelectorMatcher(selector: string | undefined): (obj: KubeObject) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((term) => {
    const m = /^([A-Za-z.]+)(==|!=|=)(.*)$/.exec(term);
    if (!m) throw new Error(`invalid field selector: ${term}`);
    const [, field, op, value] = m;
    const read = FIELDS[field];
    if (!read) throw new Error(`field label not supported: ${field}`);
    return (obj: KubeObject) => (read(obj) === value) === (op !== '!=');
  });
  return (obj) => terms.every((t) => t(obj));
}

const FIELDS: Record<string, (obj: KubeObject) => string> = {
  'spec.nodeName': (o) => o.spec?.nodeName ?? '',
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace,
};

function send(res: http.ServerResponse, event: object): void {
  if (!res.writableEnded) res.write(`${JSON.stringify(event)}\n`);
}

function sendJson(res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
