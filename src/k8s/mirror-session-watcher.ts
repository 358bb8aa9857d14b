// MirrorSession custom resources (podspan.io/v1alpha1, all namespaces), kept current by the same
// list-then-watch loop as the pods. Specs are handed over as they are: validating them is the
// agent's job (config/agent-config.ts), so one bad resource cannot stop the watch.
import { CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger';
import { DEFAULT_BACKOFF_MS, ListWatchLoop, LoopWatcher, httpStatusOf, type WatcherOptions } from './list-watch';
import type { MirrorSessionResource, MirrorSessionsListener } from './types';

export const MIRROR_SESSION_GROUP = 'podspan.io';
export const MIRROR_SESSION_VERSION = 'v1alpha1';
export const MIRROR_SESSION_PLURAL = 'mirrorsessions';

interface CustomObject {
  metadata?: { namespace?: string; name?: string; resourceVersion?: string };
  spec?: unknown;
}

export class MirrorSessionWatcher extends LoopWatcher<MirrorSessionsListener> {
  protected readonly loop: ListWatchLoop<MirrorSessionResource>;

  constructor(kc: KubeConfig, log: Logger, opts: WatcherOptions = {}) {
    super();
    const api = kc.makeApiClient(CustomObjectsApi);
    this.loop = new ListWatchLoop<MirrorSessionResource>({
      what: 'mirrorsessions',
      log: log.child({ watcher: 'mirrorsessions' }),
      watch: new Watch(kc),
      watchPath: `/apis/${MIRROR_SESSION_GROUP}/${MIRROR_SESSION_VERSION}/${MIRROR_SESSION_PLURAL}`,
      watchQuery: {},
      list: async () => {
        const list = (await api.listClusterCustomObject({
          group: MIRROR_SESSION_GROUP,
          version: MIRROR_SESSION_VERSION,
          plural: MIRROR_SESSION_PLURAL,
        })) as { items?: unknown[]; metadata?: { resourceVersion?: string } };
        return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
      },
      keyOf: (obj) => {
        const m = (obj as CustomObject).metadata;
        return m?.name ? `${m.namespace ?? ''}/${m.name}` : undefined;
      },
      convert: (obj) => sessionFromObject(obj as CustomObject),
      onChange: (sessions) => this.listener?.(sortedSessions(sessions)),
      backoffMs: opts.backoffMs ?? DEFAULT_BACKOFF_MS,
      // 404: the CRD is not installed (yet). No sessions then, and keep trying.
      isAbsent: (err) => httpStatusOf(err) === 404,
    });
  }

  // start() also resolves when the first attempt found no MirrorSession CRD (delivered as an
  // empty list); synced stays false while it is missing.
}

function sessionFromObject(obj: CustomObject): MirrorSessionResource {
  return {
    namespace: obj.metadata?.namespace ?? '',
    name: obj.metadata?.name ?? '',
    resourceVersion: obj.metadata?.resourceVersion ?? '',
    spec: obj.spec,
  };
}

/** A stable order (namespace, name), so consumers can compare successive lists. */
function sortedSessions(sessions: Map<string, MirrorSessionResource>): MirrorSessionResource[] {
  return [...sessions.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}
