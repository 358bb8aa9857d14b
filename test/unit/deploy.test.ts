// No cluster runs here, so deploy/ is checked statically: every manifest parses (the same under
// YAML 1.1, which kubectl reads, and 1.2) and validates against the Kubernetes API schemas
// (kubernetes-models); the CRD's schema is structural and agrees with the agent's own session
// schema; the example MirrorSession and the ConfigMap's agent.yaml are valid; the objects refer
// to each other correctly; and the security settings are exactly the promised ones.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
// ajv comes with kubernetes-models (through @kubernetes-models/validate); it is what validates there.
import Ajv from 'ajv';
import { ClusterRole, type IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding, type IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { CustomResourceDefinition, type ICustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { DaemonSet, type IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace, type INamespace } from 'kubernetes-models/v1/Namespace';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ServiceAccount, type IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { sessionFromResource } from '../../src/agent/tenancy';
import { agentConfigSchema, sessionSchema } from '../../src/config/agent-config';
import { badSpecs, baseSpec, dirsOutsideHostPath, goodSpecs } from '../helpers/mirrorsession-cases';
import { repoRoot } from '../helpers/tools';

type Obj = Record<string, unknown>;
interface Manifest {
  where: string;
  key: string; // apiVersion/kind
  obj: Obj;
}

const deployDir = path.join(repoRoot, 'deploy');
const yamlFiles = fs
  .readdirSync(deployDir)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml') // kustomize's, not an API object
  .sort();

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseFile(file: string, version: '1.1' | '1.2'): unknown[] {
  const docs = parseAllDocuments(fs.readFileSync(path.join(deployDir, file), 'utf8'), { version });
  if (!Array.isArray(docs)) return [];
  return docs.map((d, i) => {
    if (d.errors.length) throw new Error(`${file} document ${i}: ${d.errors[0].message}`);
    return d.toJS();
  });
}

const manifests: Manifest[] = yamlFiles.flatMap((file) =>
  parseFile(file, '1.2')
    .filter((o) => o !== null)
    .map((obj, i) => {
      if (!isObj(obj)) throw new Error(`${file} document ${i}: not a mapping`);
      return { where: `${file}#${i}`, key: `${String(obj.apiVersion)}/${String(obj.kind)}`, obj };
    }),
);

// Each kind we ship, with the kubernetes-models class that validates it. Anything else fails.
const models: Record<string, (data: Obj) => { validate(): void }> = {
  'v1/Namespace': (d) => new Namespace(d as unknown as INamespace),
  'v1/ServiceAccount': (d) => new ServiceAccount(d as unknown as IServiceAccount),
  'v1/ConfigMap': (d) => new ConfigMap(d as unknown as IConfigMap),
  'v1/Service': (d) => new Service(d as unknown as IService),
  'rbac.authorization.k8s.io/v1/ClusterRole': (d) => new ClusterRole(d as unknown as IClusterRole),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': (d) => new ClusterRoleBinding(d as unknown as IClusterRoleBinding),
  'apiextensions.k8s.io/v1/CustomResourceDefinition': (d) => new CustomResourceDefinition(d as unknown as ICustomResourceDefinition),
  'apps/v1/DaemonSet': (d) => new DaemonSet(d as unknown as IDaemonSet),
  'apps/v1/Deployment': (d) => new Deployment(d as unknown as IDeployment),
  'networking.k8s.io/v1/NetworkPolicy': (d) => new NetworkPolicy(d as unknown as INetworkPolicy),
};
const MIRROR_SESSION = 'podspan.io/v1alpha1/MirrorSession';
const CLUSTER_MIRROR_SESSION = 'podspan.io/v1alpha1/ClusterMirrorSession';

function the<T>(key: string, name?: string): T {
  const found = manifests.filter((m) => m.key === key && (name === undefined || (m.obj.metadata as Obj | undefined)?.name === name));
  if (found.length !== 1) throw new Error(`expected one ${key}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0].obj as unknown as T;
}

// The ClusterMirrorSession's schema is the agent's session schema; the MirrorSession's narrows it
// with CEL rules, which the real API server judges (test/integration/tenancy-k8s.test.ts).
const crd = the<ICustomResourceDefinition>('apiextensions.k8s.io/v1/CustomResourceDefinition', 'clustermirrorsessions.podspan.io');
const tenantCrd = the<ICustomResourceDefinition>('apiextensions.k8s.io/v1/CustomResourceDefinition', 'mirrorsessions.podspan.io');
const crdVersion = crd.spec.versions[0];
const daemonSet = the<IDaemonSet>('apps/v1/DaemonSet', 'podspan-agent');
const collector = the<IDeployment>('apps/v1/Deployment', 'podspan-collector');
const collectorService = the<IService>('v1/Service', 'podspan-collector');
const configMap = the<IConfigMap>('v1/ConfigMap', 'podspan-agent');
const clusterRole = the<IClusterRole>('rbac.authorization.k8s.io/v1/ClusterRole', 'podspan-agent');
const example = the<{ metadata: { name: string; namespace: string }; spec: Obj }>(MIRROR_SESSION);
const clusterExample = the<{ metadata: { name: string }; spec: Obj }>(CLUSTER_MIRROR_SESSION);
const agentPod = daemonSet.spec!.template.spec!;
const agent = agentPod.containers.find((c) => c.name === 'agent')!;

// --- the CRD's schema, as the API server and as ajv see it ---------------------------------------

type Schema = Record<string, unknown>;
const childSchemas = (s: Schema): [string, Schema][] => {
  const out: [string, Schema][] = [];
  if (isObj(s.properties)) for (const [k, v] of Object.entries(s.properties)) out.push([`.${k}`, v as Schema]);
  if (isObj(s.items)) out.push(['[]', s.items as Schema]);
  if (isObj(s.additionalProperties)) out.push(['{}', s.additionalProperties as Schema]);
  return out;
};

/** The API server's structural-schema rules that matter here; returns the violations. */
function structuralProblems(s: Schema, at = ''): string[] {
  const problems: string[] = [];
  const hasType = typeof s.type === 'string' || s['x-kubernetes-int-or-string'] === true || s['x-kubernetes-preserve-unknown-fields'] === true;
  if (!hasType) problems.push(`${at || '(root)'}: no type`);
  if (isObj(s.properties) && s.additionalProperties !== undefined) problems.push(`${at}: properties and additionalProperties together`);
  for (const junctor of ['anyOf', 'oneOf', 'allOf'] as const) {
    const branches = s[junctor];
    if (branches === undefined) continue;
    for (const [i, b] of (branches as Schema[]).entries()) {
      for (const banned of ['type', 'default', 'description', 'additionalProperties', 'nullable']) {
        if (banned in b) problems.push(`${at}.${junctor}[${i}]: ${banned} inside a junctor`);
      }
      const known = isObj(s.properties) ? Object.keys(s.properties) : [];
      for (const k of [...Object.keys(isObj(b.properties) ? b.properties : {}), ...((b.required as string[] | undefined) ?? [])]) {
        if (!known.includes(k)) problems.push(`${at}.${junctor}[${i}]: ${k} is not a property outside the junctor`);
      }
    }
  }
  for (const [k, child] of childSchemas(s)) problems.push(...structuralProblems(child, at + k));
  return problems;
}

/**
 * The CRD schema as draft-07 JSON Schema for ajv: boolean exclusiveMinimum/Maximum (OpenAPI 3.0)
 * become numbers, and objects with listed properties refuse others (what `kubectl apply`'s strict
 * field validation does to unknown fields) except metadata, which the server owns.
 */
function toAjv(s: Schema, at = ''): Schema {
  const out: Schema = { ...s };
  for (const [flag, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (out[flag] === true) {
      out[flag] = out[bound];
      delete out[bound];
    } else if (out[flag] === false) delete out[flag];
  }
  if (isObj(s.properties)) {
    out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, toAjv(v as Schema, `${at}.${k}`)]));
    if (s.type === 'object' && s.additionalProperties === undefined && at !== '.metadata') out.additionalProperties = false;
  }
  if (isObj(s.items)) out.items = toAjv(s.items as Schema, `${at}[]`);
  if (isObj(s.additionalProperties)) out.additionalProperties = toAjv(s.additionalProperties as Schema, `${at}{}`);
  for (const junctor of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (Array.isArray(s[junctor])) out[junctor] = (s[junctor] as Schema[]).map((b) => toAjv(b, at));
  }
  return out;
}

const crdSchema = crdVersion.schema!.openAPIV3Schema! as unknown as Schema;
// The status' int64 and date-time formats are the API server's to check (status is written by agents, not users).
const ajv = new Ajv({ strict: false, allErrors: true, formats: { int64: true, 'date-time': true } });
const validateResource = ajv.compile(toAjv(crdSchema));
const asResource = (spec: Obj, name = 'probe') => ({ apiVersion: 'podspan.io/v1alpha1', kind: 'ClusterMirrorSession', metadata: { name }, spec });
const crdAccepts = (spec: Obj, name?: string) => validateResource(asResource(spec, name));
const agentAccepts = (spec: Obj) => sessionSchema.safeParse({ ...spec, name: 'shop-probe' }).success;

// --- helpers for the pod specs ----------------------------------------------------------------

const podspanImage = /^podspan:/;
const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
/** The capabilities the image's node binary carries as file capabilities with the effective bit. */
const fileCaps = (() => {
  const m = dockerfile.match(/setcap (\S+)\+(\w+) \S*node\b/);
  if (!m || !m[2].includes('e')) return [];
  return m[1].split(',').map((c) => c.replace(/^cap_/, '').toUpperCase());
})();

function podContainers(pod: IPodSpec): IContainer[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}
const effective = <K extends 'runAsNonRoot' | 'runAsUser'>(pod: IPodSpec, c: IContainer, k: K) => c.securityContext?.[k] ?? pod.securityContext?.[k];

describe('deploy/ manifests', () => {
  it('has the expected files, each parsing to the same objects under YAML 1.1 (kubectl) and 1.2', () => {
    for (const f of ['namespace.yaml', 'rbac.yaml', 'crd-mirrorsession.yaml', 'crd-clustermirrorsession.yaml', 'example-mirrorsession.yaml', 'example-clustermirrorsession.yaml', 'agent-configmap.yaml', 'agent-daemonset.yaml', 'collector.yaml']) {
      expect(yamlFiles).toContain(f);
    }
    for (const f of yamlFiles) expect(parseFile(f, '1.1'), f).toEqual(parseFile(f, '1.2'));
    expect(manifests.length).toBeGreaterThanOrEqual(10);
  });

  it('validates every object against the Kubernetes API schemas; only known kinds', () => {
    for (const m of manifests) {
      if (m.key === MIRROR_SESSION || m.key === CLUSTER_MIRROR_SESSION) continue; // checked against the CRDs below
      const model = models[m.key];
      expect(model, `${m.where}: unexpected kind ${m.key}`).toBeDefined();
      expect(() => model(m.obj).validate(), m.where).not.toThrow();
    }
  });

  it('the validation bites: a container port of "x" is refused', () => {
    const broken = structuredClone(daemonSet) as unknown as { spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } } };
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'x';
    expect(() => new DaemonSet(broken as unknown as IDaemonSet).validate()).toThrow(/containerPort/);
  });

  it('puts every namespaced object in podspan (the example session in its workload namespace)', () => {
    const clusterScoped = ['v1/Namespace', 'rbac.authorization.k8s.io/v1/ClusterRole', 'rbac.authorization.k8s.io/v1/ClusterRoleBinding', 'apiextensions.k8s.io/v1/CustomResourceDefinition', CLUSTER_MIRROR_SESSION];
    for (const m of manifests) {
      const ns = (m.obj.metadata as Obj).namespace;
      if (clusterScoped.includes(m.key)) expect(ns, m.where).toBeUndefined();
      else if (m.key !== MIRROR_SESSION) expect(ns, m.where).toBe('podspan');
    }
    expect(the<INamespace>('v1/Namespace').metadata?.name).toBe('podspan');
  });
});

describe('RBAC', () => {
  it('lets the agent read pods, both session kinds and the Secrets named podspan-mirror-credentials, and write only session status and Events', () => {
    const rules = clusterRole.rules ?? [];
    expect(rules.map((r) => ({ groups: r.apiGroups, resources: r.resources, names: r.resourceNames, verbs: [...(r.verbs ?? [])].sort() }))).toEqual([
      { groups: [''], resources: ['pods'], names: undefined, verbs: ['get', 'list', 'watch'] },
      { groups: ['podspan.io'], resources: ['mirrorsessions', 'clustermirrorsessions'], names: undefined, verbs: ['get', 'list', 'watch'] },
      { groups: ['podspan.io'], resources: ['mirrorsessions/status', 'clustermirrorsessions/status'], names: undefined, verbs: ['patch'] },
      { groups: [''], resources: ['events'], names: undefined, verbs: ['create'] },
      { groups: [''], resources: ['secrets'], names: ['podspan-mirror-credentials'], verbs: ['get', 'list', 'watch'] },
    ]);
    for (const r of rules) expect(r.nonResourceURLs).toBeUndefined();
  });

  it('offers tenants a role for MirrorSessions only (not ClusterMirrorSessions), bound by nobody', () => {
    const editor = the<IClusterRole>('rbac.authorization.k8s.io/v1/ClusterRole', 'podspan-mirrorsession-editor');
    expect(editor.rules).toEqual([{ apiGroups: ['podspan.io'], resources: ['mirrorsessions'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] }]);
    expect(manifests.filter((m) => (m.obj as { roleRef?: { name?: string } }).roleRef?.name === 'podspan-mirrorsession-editor')).toEqual([]);
  });

  it('binds that role to the ServiceAccount the DaemonSet runs as', () => {
    const sa = the<IServiceAccount>('v1/ServiceAccount', 'podspan-agent');
    const binding = the<IClusterRoleBinding>('rbac.authorization.k8s.io/v1/ClusterRoleBinding', 'podspan-agent');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole.metadata?.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata?.name, namespace: sa.metadata?.namespace }]);
    expect(agentPod.serviceAccountName).toBe(sa.metadata?.name);
    expect(collector.spec!.template.spec!.automountServiceAccountToken).toBe(false);
  });
});

describe('MirrorSession and ClusterMirrorSession CRDs', () => {
  it('name podspan.io/v1alpha1 MirrorSession (namespaced, ms) and ClusterMirrorSession (cluster-scoped, cms), served and stored', () => {
    for (const [c, kind, plural, scope, short] of [
      [tenantCrd, 'MirrorSession', 'mirrorsessions', 'Namespaced', 'ms'],
      [crd, 'ClusterMirrorSession', 'clustermirrorsessions', 'Cluster', 'cms'],
    ] as const) {
      expect(c.metadata?.name).toBe(`${plural}.podspan.io`);
      expect(c.spec.group).toBe('podspan.io');
      expect(c.spec.scope).toBe(scope);
      expect(c.spec.names).toMatchObject({ kind, plural, shortNames: [short] });
      expect(c.spec.versions).toHaveLength(1);
      expect(c.spec.versions[0]).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
      expect(c.spec.versions[0].additionalPrinterColumns?.map((x) => x.jsonPath)).toContain('.spec.priority');
    }
  });

  it('have structural schemas', () => {
    expect(structuralProblems(crdSchema)).toEqual([]);
    expect(structuralProblems(tenantCrd.spec.versions[0].schema!.openAPIV3Schema as unknown as Schema)).toEqual([]);
  });

  it('accept the examples, which the agent accepts too (named NAMESPACE/NAME and cluster.NAME)', () => {
    const tenantValidate = ajv.compile(toAjv(tenantCrd.spec.versions[0].schema!.openAPIV3Schema as unknown as Schema));
    expect(tenantValidate(example), JSON.stringify(tenantValidate.errors)).toBe(true);
    // Its collector credentials come from the namespace's Secret (keys token and ca.crt).
    const credentialsSecret = { token: Buffer.from('token'), 'ca.crt': Buffer.from('CA') };
    const session = sessionFromResource({ kind: 'MirrorSession', namespace: example.metadata.namespace, name: example.metadata.name, resourceVersion: '1', spec: example.spec, credentialsSecret });
    expect(session.name).toBe('shop/cart-http');
    expect(session.sources.pods).toEqual({ names: [], namespaces: ['shop'], selector: { app: 'cart' } });
    expect(session.filter).toMatchObject({ protocols: ['tcp'], ports: [8080] });
    expect(session.forward).toMatchObject([{ kind: 'grpc', host: 'podspan-collector.podspan.svc', port: 50051 }]);

    expect(validateResource(clusterExample), JSON.stringify(validateResource.errors)).toBe(true);
    const cluster = sessionFromResource({ kind: 'ClusterMirrorSession', namespace: '', name: clusterExample.metadata.name, resourceVersion: '1', spec: clusterExample.spec }, '/');
    expect(cluster.name).toBe('cluster.dns-headers');
    expect(cluster.sources.pods).toEqual({ names: [], namespaces: ['kube-system'], selector: { 'k8s-app': 'kube-dns' } });
  });

  // The same verdict from the CRD (at kubectl apply) and from the agent (sessionSchema).
  it.each(goodSpecs)('CRD and agent both accept: %s', (_, spec) => {
    expect(crdAccepts(spec), JSON.stringify(validateResource.errors)).toBe(true);
    expect(agentAccepts(spec)).toBe(true);
  });
  it.each(badSpecs)('CRD and agent both refuse: %s', (_, spec) => {
    expect(crdAccepts(spec)).toBe(false);
    expect(agentAccepts(spec)).toBe(false);
  });

  it('is stricter on purpose: files only under /var/lib/podspan, names without dots', () => {
    for (const dir of dirsOutsideHostPath) {
      expect(crdAccepts({ ...baseSpec, targets: [{ pcap: { dir } }] }), dir).toBe(false);
      expect(crdAccepts({ ...baseSpec, targets: [{ streams: { dir } }] }), dir).toBe(false);
      expect(crdAccepts({ ...baseSpec, detect: { evidenceDir: dir } }), dir).toBe(false);
    }
    expect(crdAccepts({ ...baseSpec, detect: { evidenceDir: '/var/lib/podspan/evidence', synFlood: { floor: 500 } } })).toBe(true);
    expect(crdAccepts(baseSpec, 'cart.v2')).toBe(false); // the agent's session name would be cluster.cart.v2
    expect(crdAccepts({ ...baseSpec, name: 'a.b' })).toBe(false); // unused by the agent, but not silently wrong
  });
});

describe('agent config (ConfigMap podspan-agent)', () => {
  const text = configMap.data?.['agent.yaml'] ?? '';
  const parsed = agentConfigSchema.safeParse(parseYaml(text));

  it('is a valid agent config with Kubernetes on and metrics on loopback (the DaemonSet sets the pod IP)', () => {
    expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues[0])).toBe(true);
    if (!parsed.success) return;
    expect(parsed.data.kubernetes.enabled).toBe(true);
    expect(parsed.data.metrics.listen).toBe('127.0.0.1:9090');
    expect(parsed.data.sessions.length).toBeGreaterThanOrEqual(1);
  });

  it('writes only into the DaemonSet hostPath, with rotation bounding the disk use', () => {
    if (!parsed.success) throw new Error('invalid config');
    const mount = agent.volumeMounts?.find((v) => v.name === 'captures')?.mountPath;
    expect(mount).toBe('/var/lib/podspan');
    for (const s of parsed.data.sessions) {
      expect(s.sources.pods).toBeUndefined(); // the default captures no pods' traffic
      for (const t of s.targets) {
        if ('pcap' in t) {
          expect(t.pcap.dir.startsWith(`${mount}/`)).toBe(true);
          expect(t.pcap.rotateMB ?? t.pcap.rotateSeconds).toBeDefined();
          expect(t.pcap.keepFiles).toBeDefined();
        }
        expect('streams' in t || 'vxlan' in t || 'grpc' in t).toBe(false);
      }
    }
  });
});

describe('agent DaemonSet', () => {
  it('runs podspan agent with the ConfigMap mounted where --config points', () => {
    expect(agent.image).toBe('podspan:0.1.0');
    expect(agent.command).toBeUndefined(); // the image's entrypoint: node bin/podspan
    expect(agent.args).toEqual(['agent', '--config', '/etc/podspan/agent.yaml']);
    const configVolume = agentPod.volumes?.find((v) => v.configMap?.name === configMap.metadata?.name);
    expect(configVolume).toBeDefined();
    expect(agent.volumeMounts?.find((m) => m.name === configVolume!.name)).toMatchObject({ mountPath: '/etc/podspan', readOnly: true });
    expect(Object.keys(configMap.data ?? {})).toEqual(['agent.yaml']);
  });

  it('uses the node network and cluster DNS, and knows its node from spec.nodeName', () => {
    expect(agentPod.hostNetwork).toBe(true);
    expect(agentPod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(agent.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
  });

  it('runs on every node, one pod down at a time, stopping within 10 s', () => {
    expect(agentPod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(daemonSet.spec!.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    expect(agentPod.terminationGracePeriodSeconds).toBe(10);
    expect(daemonSet.spec!.selector.matchLabels).toEqual(Object.fromEntries(Object.entries(daemonSet.spec!.template.metadata?.labels ?? {}).filter(([k]) => k in (daemonSet.spec!.selector.matchLabels ?? {}))));
  });

  it('probes /healthz and /readyz on the metrics port', () => {
    expect(agent.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 9090 });
    expect(agent.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 9090 });
    expect(agent.ports).toEqual([{ name: 'metrics', containerPort: 9090, protocol: 'TCP' }]);
  });

  it('requests 200m/256Mi and is limited to 1 CPU and 1Gi', () => {
    expect(agent.resources).toEqual({ requests: { cpu: '200m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } });
  });

  it('runs as non-root with only NET_RAW, no privilege escalation, a read-only root', () => {
    expect(effective(agentPod, agent, 'runAsNonRoot')).toBe(true);
    expect(effective(agentPod, agent, 'runAsUser')).not.toBe(0);
    expect(agent.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(agent.securityContext?.privileged).toBeUndefined();
    expect(agent.securityContext?.capabilities?.drop).toEqual(['ALL']);
    expect([...(agent.securityContext?.capabilities?.add ?? [])].sort()).toEqual(['NET_RAW']);
    expect(agentPod.hostPID).toBeUndefined();
    expect(agentPod.hostIPC).toBeUndefined();
  });

  it('mounts only the config and the collector CA and token (read-only), the capture hostPath and a small /tmp', () => {
    const hostPaths = (agentPod.volumes ?? []).filter((v) => v.hostPath).map((v) => v.hostPath);
    expect(hostPaths).toEqual([{ path: '/var/lib/podspan', type: 'DirectoryOrCreate' }]);
    expect(agent.volumeMounts?.map((m) => m.mountPath).sort()).toEqual(['/etc/podspan', '/etc/podspan-tls', '/etc/podspan-token', '/tmp', '/var/lib/podspan']);
  });

  it('hands the hostPath to the agent uid in an init container that holds CAP_CHOWN alone', () => {
    const init = agentPod.initContainers ?? [];
    expect(init).toHaveLength(1);
    expect(init[0].command).toEqual(['chown', `${agentPod.securityContext?.runAsUser}:${agentPod.securityContext?.runAsGroup}`, '/var/lib/podspan']);
    expect(init[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['CHOWN'] } });
  });
});

describe('collector', () => {
  const pod = collector.spec!.template.spec!;
  const c = pod.containers[0];

  it('runs one collector with the gRPC (TLS, token) and metrics listeners and an output folder', () => {
    expect(collector.spec!.replicas).toBe(1);
    expect(pod.containers).toHaveLength(1);
    expect(c.args).toEqual([
      'collector', '--listen', '0.0.0.0:50051', '--out', '/var/lib/podspan-collector',
      '--tls-cert', '/etc/podspan-tls/tls.crt', '--tls-key', '/etc/podspan-tls/tls.key', '--token-file', '/etc/podspan-token/token',
      '--metrics-listen', '$(POD_IP):9090',
    ]);
    expect(c.volumeMounts?.map((m) => m.mountPath)).toContain('/var/lib/podspan-collector');
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    const metricsPort = c.ports?.find((p) => p.containerPort === 9090)?.name;
    for (const probe of [c.livenessProbe, c.readinessProbe]) expect([9090, metricsPort]).toContain(probe?.httpGet?.port);
    expect(c.resources?.requests).toBeDefined();
    expect(c.resources?.limits).toBeDefined();
  });

  it('is hardened like the agent, without host access', () => {
    expect(effective(pod, c, 'runAsNonRoot')).toBe(true);
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.hostNetwork).toBeUndefined();
    expect((pod.volumes ?? []).filter((v) => v.hostPath)).toEqual([]);
  });

  it('is reachable through a ClusterIP Service on grpc 50051/TCP and metrics 9090/TCP', () => {
    const spec = collectorService.spec!;
    expect(spec.type).toBe('ClusterIP');
    expect(spec.ports?.map((p) => [p.name, p.port, p.protocol])).toEqual([
      ['grpc', 50051, 'TCP'],
      ['metrics', 9090, 'TCP'],
    ]);
    const labels = collector.spec!.template.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(spec.selector ?? {})) expect(labels[k]).toBe(v);
    for (const p of spec.ports ?? []) {
      const target = c.ports?.find((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort);
      expect(target, `${p.name} target`).toBeDefined();
      expect(target!.containerPort).toBe(p.port);
      expect(target!.protocol).toBe(p.protocol);
    }
  });

  it('is where the example session forwards', () => {
    const url = new URL((example.spec.targets as { grpc: string }[])[0].grpc);
    expect(url.hostname).toBe(`${collectorService.metadata?.name}.${collectorService.metadata?.namespace}.svc`);
    expect(Number(url.port)).toBe(collectorService.spec!.ports!.find((p) => p.name === 'grpc')!.port);
  });
});

describe('every podspan container', () => {
  const pods: [string, IPodSpec][] = [
    ['agent', agentPod],
    ['collector', collector.spec!.template.spec!],
  ];

  it('can exec the image: the node binary needs its file capabilities in the bounding set', () => {
    // setcap ...+eip: the kernel refuses exec (EPERM) when the bounding set lacks one of them.
    expect(fileCaps.length).toBeGreaterThan(0);
    for (const [name, pod] of pods) {
      for (const c of podContainers(pod).filter((x) => podspanImage.test(x.image ?? '') && x.command === undefined)) {
        const add = c.securityContext?.capabilities?.add ?? [];
        for (const cap of fileCaps) expect(add, `${name}/${c.name}`).toContain(cap);
      }
    }
  });

  it('gives a numeric uid (the image user is a name, which runAsNonRoot cannot verify) and the runtime seccomp profile', () => {
    expect(dockerfile).toMatch(/^USER podspan$/m);
    for (const [name, pod] of pods) {
      expect(pod.securityContext?.seccompProfile?.type, name).toBe('RuntimeDefault');
      for (const c of podContainers(pod)) {
        const uid = effective(pod, c, 'runAsUser');
        expect(typeof uid, `${name}/${c.name}`).toBe('number');
        if (c.command?.[0] !== 'chown') expect(uid, `${name}/${c.name}`).toBeGreaterThan(0);
        expect(c.securityContext?.allowPrivilegeEscalation, `${name}/${c.name}`).toBe(false);
        expect(c.securityContext?.capabilities?.drop, `${name}/${c.name}`).toEqual(['ALL']);
      }
    }
  });
});

describe('systemd unit', () => {
  const unitPath = path.join(deployDir, 'podspan-agent.service');
  const unit = fs.readFileSync(unitPath, 'utf8');
  const service = new Map<string, string[]>();
  let section = '';
  for (const line of unit.split('\n')) {
    const header = line.match(/^\[(\w+)\]$/);
    if (header) section = header[1];
    const kv = line.match(/^(\w+)=(.*)$/);
    if (kv && section === 'Service') service.set(kv[1], [...(service.get(kv[1]) ?? []), kv[2]]);
  }
  const one = (k: string) => {
    expect(service.get(k), k).toHaveLength(1);
    return service.get(k)![0];
  };
  const set = (k: string) => one(k).split(/\s+/).sort();

  it('runs the agent as podspan with exactly CAP_NET_RAW', () => {
    expect(one('ExecStart')).toBe('/usr/bin/node /opt/podspan/bin/podspan agent --config /etc/podspan/agent.yaml');
    expect(one('User')).toBe('podspan');
    expect(set('AmbientCapabilities')).toEqual(['CAP_NET_RAW']);
    expect(set('CapabilityBoundingSet')).toEqual(['CAP_NET_RAW']);
    expect(one('NoNewPrivileges')).toMatch(/^(yes|true|1)$/);
  });

  it('keeps the filesystem read-only but /var/lib/podspan', () => {
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ReadWritePaths')).toBe('/var/lib/podspan');
  });

  it('reloads on HUP, stops on TERM within 10 s, restarts on failure', () => {
    expect(one('ExecReload')).toMatch(/^\/(usr\/)?bin\/kill -HUP \$MAINPID$/);
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(one('TimeoutStopSec')).toBe('10');
    expect(one('Restart')).toBe('on-failure');
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  it.skipIf(analyze.status !== 0)('passes systemd-analyze verify', () => {
    const r = spawnSync('systemd-analyze', ['verify', unitPath], { encoding: 'utf8', cwd: deployDir });
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('deploy/kustomization.yaml', () => {
  const k = parseFile('kustomization.yaml', '1.1')[0] as { resources: string[]; images: { name: string; newName: string; newTag: string }[] };

  it('installs every manifest but the example sessions, and names every image the manifests use', () => {
    expect([...k.resources].sort()).toEqual(yamlFiles.filter((f) => !f.startsWith('example-')));
    const used = new Set(
      [agentPod, collector.spec!.template.spec!].flatMap((pod) => podContainers(pod).map((c) => (c.image ?? '').split(':')[0])),
    );
    expect([...used].sort()).toEqual(k.images.map((i) => i.name).sort());
  });

  it('runs the collector from the capability-free image with no capability at all', () => {
    const c = collector.spec!.template.spec!.containers[0];
    expect(c.image).toMatch(/^podspan-collector:/);
    expect(c.securityContext?.capabilities).toEqual({ drop: ['ALL'] });
    expect(dockerfile).toMatch(/^FROM \S+ AS collector$/m);
    expect(dockerfile.split(/^FROM /m).find((s) => / AS collector\n/.test(s))).not.toContain('setcap');
  });
});
