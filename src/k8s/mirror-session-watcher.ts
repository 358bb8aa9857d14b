// Mirror sessions as resources (podspan.io/v1alpha1): namespaced MirrorSessions (tenants') and
// cluster-scoped ClusterMirrorSessions (operators'), and, for the MirrorSessions' collector
// credentials, Secret podspan-mirror-credentials of every namespace (that name only: a field
// selector the agent's RBAC, restricted to that resourceName, allows). Each kept current by the
// same list-then-watch loop as the pods. Specs are handed over as they are: validating them is
// the agent's job (src/agent/tenancy.ts), so one bad resource cannot stop the watch.
import { CoreV1Api, CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger';
import { DEFAULT_BACKOFF_MS, ListWatchLoop, httpStatusOf, type WatcherOptions } from './list-watch';
import type { MirrorSessionResource, MirrorSessionsListener } from './types';

export const MIRROR_SESSION_GROUP = 'podspan.io';
export const MIRROR_SESSION_VERSION = 'v1alpha1';
export const MIRROR_SESSION_PLURAL = 'mirrorsessions';
export const CLUSTER_MIRROR_SESSION_PLURAL = 'clustermirrorsessions';
/** The only Secret name the agent reads (deploy/rbac.yaml grants get/list/watch on it alone). */
export const CREDENTIALS_SECRET_NAME = 'podspan-mirror-credentials';

interface KubeObject {
  metadata?: { namespace?: string; name?: string; resourceVersion?: string; uid?: string };
  spec?: unknown;
  status?: unknown;
  data?: Record<string, string>;
}

interface SecretData {
  namespace: string;
  /** Base64, as the API returns it. */
  data: Record<string, string>;
}

export class MirrorSessionWatcher {
  private listener: MirrorSessionsListener | undefined;
  private readonly sessionLoops: ListWatchLoop<MirrorSessionResource>[];
  private readonly secretLoop: ListWatchLoop<SecretData>;
  private readonly sessions = { MirrorSession: new Map<string, MirrorSessionResource>(), ClusterMirrorSession: new Map<string, MirrorSessionResource>() };
  /** Secret podspan-mirror-credentials by namespace. */
  private secrets = new Map<string, SecretData>();
  /** Until every loop has delivered once, nothing is handed over (no half picture). */
  private readonly heard = new Set<string>();
  private lastDelivered: string | undefined;

  constructor(kc: KubeConfig, log: Logger, opts: WatcherOptions = {}) {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const watch = new Watch(kc);
    const backoffMs = opts.backoffMs ?? DEFAULT_BACKOFF_MS;
    const sessionLoop = (kind: MirrorSessionResource['kind'], plural: string) =>
      new ListWatchLoop<MirrorSessionResource>({
        what: plural,
        log: log.child({ watcher: plural }),
        watch,
        watchPath: `/apis/${MIRROR_SESSION_GROUP}/${MIRROR_SESSION_VERSION}/${plural}`,
        watchQuery: {},
        list: async () => {
          const list = (await custom.listClusterCustomObject({ group: MIRROR_SESSION_GROUP, version: MIRROR_SESSION_VERSION, plural })) as { items?: unknown[]; metadata?: { resourceVersion?: string } };
          return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
        },
        keyOf: (obj) => {
          const m = (obj as KubeObject).metadata;
          return m?.name ? `${m.namespace ?? ''}/${m.name}` : undefined;
        },
        convert: (obj) => sessionFromObject(kind, obj as KubeObject),
        onChange: (sessions) => {
          this.sessions[kind] = sessions;
          this.deliver(kind);
        },
        backoffMs,
        // 404: the CRD is not installed (yet); 403: the agent's RBAC lacks it (an older rbac.yaml). No
        // sessions of that kind then, the other kind's still run, and keep trying.
        isAbsent: (err) => httpStatusOf(err) === 404 || httpStatusOf(err) === 403,
        absentMessage: 'cannot list them (CRD not installed, or the agent\'s RBAC without them?)',
      });
    this.sessionLoops = [sessionLoop('MirrorSession', MIRROR_SESSION_PLURAL), sessionLoop('ClusterMirrorSession', CLUSTER_MIRROR_SESSION_PLURAL)];
    const fieldSelector = `metadata.name=${CREDENTIALS_SECRET_NAME}`;
    this.secretLoop = new ListWatchLoop<SecretData>({
      what: 'secrets',
      log: log.child({ watcher: 'secrets' }),
      watch,
      watchPath: '/api/v1/secrets',
      watchQuery: { fieldSelector },
      list: async () => {
        const list = await core.listSecretForAllNamespaces({ fieldSelector });
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
      },
      keyOf: (obj) => (obj as KubeObject).metadata?.namespace,
      convert: (obj) => ({ namespace: (obj as KubeObject).metadata?.namespace ?? '', data: { ...((obj as KubeObject).data ?? {}) } }),
      onChange: (secrets) => {
        this.secrets = secrets;
        this.deliver('secrets');
      },
      backoffMs,
      // Refused (RBAC not applied) or absent: MirrorSessions naming credentials are refused meanwhile.
      isAbsent: (err) => httpStatusOf(err) === 403 || httpStatusOf(err) === 404,
      absentMessage: `cannot read Secrets ${CREDENTIALS_SECRET_NAME} (RBAC not granted?); MirrorSessions naming credentials are refused until it can`,
    });
  }

  /** Resolves once both kinds were listed (or found absent) and the Secrets too (or found unreadable). */
  async start(listener: MirrorSessionsListener): Promise<void> {
    this.listener = listener;
    await Promise.all([...this.sessionLoops, this.secretLoop].map((l) => l.start()));
  }

  stop(): void {
    for (const l of [...this.sessionLoops, this.secretLoop]) l.stop();
  }

  /** True once both session kinds have been listed. */
  get synced(): boolean {
    return this.sessionLoops.every((l) => l.synced);
  }

  /** Hands the combined picture over once every loop has been heard from, and then on each change of it. */
  private deliver(from: 'MirrorSession' | 'ClusterMirrorSession' | 'secrets'): void {
    this.heard.add(from);
    if (this.heard.size < 3) return;
    const sessions = [...this.sessions.ClusterMirrorSession.values(), ...this.sessions.MirrorSession.values()].map((s) => {
      const secret = s.kind === 'MirrorSession' ? this.secrets.get(s.namespace) : undefined;
      return secret ? { ...s, credentialsSecret: decode(secret.data) } : s;
    });
    sessions.sort((a, b) => a.kind.localeCompare(b.kind) || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    // One kind relisted without change, or a Secret of a namespace without sessions: nothing new.
    const fingerprint = JSON.stringify(sessions);
    if (fingerprint === this.lastDelivered) return;
    this.lastDelivered = fingerprint;
    this.listener?.(sessions);
  }
}

function sessionFromObject(kind: MirrorSessionResource['kind'], obj: KubeObject): MirrorSessionResource {
  return {
    kind,
    namespace: kind === 'MirrorSession' ? (obj.metadata?.namespace ?? '') : '',
    name: obj.metadata?.name ?? '',
    resourceVersion: obj.metadata?.resourceVersion ?? '',
    uid: obj.metadata?.uid ?? '',
    spec: obj.spec,
    ...(obj.status !== undefined ? { status: obj.status } : {}),
  };
}

function decode(data: Record<string, string>): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}
