// A temporary MirrorSession for `kubectl podspan capture`: created with an expiry the agents
// honour (spec.expiresAt), renewed while its client runs, deleted when it ends. A client that is
// killed leaves a session the agents stop running at its expiry; the label lets an operator
// find and delete such leftovers (`kubectl delete ms -l podspan.io/temporary`).
import crypto from 'node:crypto';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { KubernetesError } from '../errors';
import { describeError, httpStatusOf } from './list-watch';
import { MIRROR_SESSION_GROUP, MIRROR_SESSION_PLURAL, MIRROR_SESSION_VERSION } from './mirror-session-watcher';

export const TEMPORARY_LABEL = 'podspan.io/temporary';

export class TemporarySession {
  private renewing?: NodeJS.Timeout;
  private deleted = false;

  private constructor(
    private readonly api: CustomObjectsApi,
    readonly namespace: string,
    readonly name: string,
    private readonly ttlSeconds: number,
  ) {}

  /** The name a session will have: chosen before it exists, so a tap can subscribe to it first. */
  static newName(): string {
    return `capture-${crypto.randomBytes(4).toString('hex')}`;
  }

  /** Creates MirrorSession NAMESPACE/NAME with `spec` (expiresAt set here) and renews it every ttl/3 until delete(). */
  static async create(kc: KubeConfig, namespace: string, name: string, spec: Record<string, unknown>, ttlSeconds: number): Promise<TemporarySession> {
    const api = kc.makeApiClient(CustomObjectsApi);
    const session = new TemporarySession(api, namespace, name, ttlSeconds);
    const body = {
      apiVersion: `${MIRROR_SESSION_GROUP}/${MIRROR_SESSION_VERSION}`,
      kind: 'MirrorSession',
      metadata: { name, namespace, labels: { [TEMPORARY_LABEL]: 'true', 'app.kubernetes.io/managed-by': 'kubectl-podspan' } },
      spec: { ...spec, expiresAt: session.expiry() },
    };
    try {
      await api.createNamespacedCustomObject({ group: MIRROR_SESSION_GROUP, version: MIRROR_SESSION_VERSION, namespace, plural: MIRROR_SESSION_PLURAL, body });
    } catch (err) {
      throw new KubernetesError(`cannot create MirrorSession ${namespace}/${name}: ${describeError(err)}`);
    }
    session.renewing = setInterval(() => void session.renew(), (ttlSeconds * 1000) / 3);
    session.renewing.unref();
    return session;
  }

  private expiry(): string {
    return new Date(Date.now() + this.ttlSeconds * 1000).toISOString();
  }

  private async renew(): Promise<void> {
    if (this.deleted) return;
    try {
      await this.api.patchNamespacedCustomObject(
        { group: MIRROR_SESSION_GROUP, version: MIRROR_SESSION_VERSION, namespace: this.namespace, plural: MIRROR_SESSION_PLURAL, name: this.name, body: { spec: { expiresAt: this.expiry() } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch {
      // the next renewal tries again; the expiry leaves room for two misses
    }
  }

  /** Deletes the session (already gone counts as done). */
  async delete(): Promise<void> {
    this.deleted = true;
    clearInterval(this.renewing);
    try {
      await this.api.deleteNamespacedCustomObject({ group: MIRROR_SESSION_GROUP, version: MIRROR_SESSION_VERSION, namespace: this.namespace, plural: MIRROR_SESSION_PLURAL, name: this.name });
    } catch (err) {
      if (httpStatusOf(err) !== 404) throw new KubernetesError(`cannot delete MirrorSession ${this.namespace}/${this.name}: ${describeError(err)}`);
    }
  }
}
