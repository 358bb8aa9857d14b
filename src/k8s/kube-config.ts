// Where the agent finds the Kubernetes API: a kubeconfig file when one is configured, else the
// pod's service account (in-cluster). Problems surface here, once, as one clear UsageError line,
// rather than later as an opaque request failure.
import fs from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { UsageError } from '../errors';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function loadKubeConfig(kubeconfig?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) {
    try {
      kc.loadFromFile(kubeconfig);
    } catch (err) {
      throw new UsageError(`${kubeconfig}: cannot load kubeconfig: ${describeLoadError(err)}`);
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) {
      throw new UsageError(`${kubeconfig}: kubeconfig has no current context with a cluster (current-context: ${kc.getCurrentContext() || 'unset'})`);
    }
    // The client refuses plain HTTP at the first request otherwise, and the watchers would only retry.
    if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
      throw new UsageError(`${kubeconfig}: cluster ${cluster.name}: server ${cluster.server} is plain HTTP, which the Kubernetes client accepts only with insecure-skip-tls-verify: true`);
    }
    return kc;
  }
  // loadFromCluster() never fails by itself: without these it would build https://undefined:undefined.
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new UsageError(
      'in-cluster Kubernetes configuration: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not running in a pod?); give kubernetes.kubeconfig',
    );
  }
  if (!fs.existsSync(SERVICE_ACCOUNT_TOKEN)) {
    throw new UsageError(`${SERVICE_ACCOUNT_TOKEN}: in-cluster Kubernetes configuration: service account token not found (automountServiceAccountToken: false?)`);
  }
  try {
    kc.loadFromCluster();
  } catch (err) {
    throw new UsageError(`in-cluster Kubernetes configuration: ${describeLoadError(err)}`);
  }
  return kc;
}

function describeLoadError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'no such file';
  if (e?.code === 'EACCES') return 'permission denied';
  const message = e instanceof Error ? e.message : String(err);
  // YAML parser messages span several lines (with a code excerpt); the first says what is wrong.
  return message.split('\n')[0];
}
