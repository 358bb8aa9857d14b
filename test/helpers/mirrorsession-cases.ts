// MirrorSession specs that the CRD in deploy/crd-mirrorsession.yaml must accept or refuse, in one
// place for both judges of that schema: ajv in test/unit/deploy.test.ts and a real kube-apiserver in
// test/integration/kube-real.test.ts. A refused case names the field the API server blames.
type Obj = Record<string, unknown>;

export const baseSpec = { sources: { interfaces: ['eth0'] }, targets: [{ grpc: 'grpc://c:50051' }] };

/** [what, spec] the CRD and the agent's session schema both accept. */
export const goodSpecs: [string, Obj][] = [
  ['minimal', baseSpec],
  ['pods only', { ...baseSpec, sources: { pods: { selector: { app: 'x' } } } }],
  ['every field', { ...baseSpec, name: 'x', filter: { bpf: 'not port 22', protocols: ['udp', 'sctp'], ports: [1, 65535], cidrs: ['10.0.0.0/8', 'fd00::/8'], direction: 'in' }, sampleOneIn: 10, truncate: 262144, vni: 16777215, priority: -1, analyze: true }],
  ['every target kind', { ...baseSpec, targets: [{ vxlan: 'vxlan://10.0.0.9:4789?vni=7' }, { grpc: 'grpc://c:1' }, { pcap: { dir: '/var/lib/podspan/p', format: 'pcap', rotateMB: 0.5, rotateSeconds: 60, keepFiles: 3 } }, { streams: { dir: '/var/lib/podspan/s' } }] }],
  ['a streams target keeping 4 KiB of each direction', { ...baseSpec, targets: [{ streams: { dir: '/var/lib/podspan/s', maxBytes: 4096 } }] }],
  ['a pcap target uploading to a store', { ...baseSpec, targets: [{ pcap: { dir: '/var/lib/podspan/p', rotateMB: 100, store: 's3://captures/cluster-a', storeSpoolMB: 5000, keepLocal: true } }] }],
];

/** [what, spec, field the API server names] the CRD and the agent's session schema both refuse. */
export const badSpecs: [string, Obj, string][] = [
  ['no sources', { targets: baseSpec.targets }, 'spec.sources'],
  ['no interfaces and no pods', { ...baseSpec, sources: { interfaces: [] } }, 'spec.sources'],
  ['no targets', { ...baseSpec, targets: [] }, 'spec.targets'],
  ['two kinds in one target', { ...baseSpec, targets: [{ grpc: 'grpc://c:1', pcap: { dir: '/var/lib/podspan' } }] }, 'spec.targets[0]'],
  ['an empty target', { ...baseSpec, targets: [{}] }, 'spec.targets[0]'],
  ['port 0', { ...baseSpec, filter: { ports: [0] } }, 'spec.filter.ports[0]'],
  ['port 65536', { ...baseSpec, filter: { ports: [65536] } }, 'spec.filter.ports[0]'],
  ['an unknown protocol', { ...baseSpec, filter: { protocols: ['http'] } }, 'spec.filter.protocols[0]'],
  ['a CIDR without length', { ...baseSpec, filter: { cidrs: ['10.0.0.0'] } }, 'spec.filter.cidrs[0]'],
  ['an unknown direction', { ...baseSpec, filter: { direction: 'sideways' } }, 'spec.filter.direction'],
  ['sampleOneIn 0', { ...baseSpec, sampleOneIn: 0 }, 'spec.sampleOneIn'],
  ['sampleOneIn 1.5', { ...baseSpec, sampleOneIn: 1.5 }, 'spec.sampleOneIn'],
  ['truncate beyond 262144', { ...baseSpec, truncate: 262145 }, 'spec.truncate'],
  ['a VNI beyond 24 bits', { ...baseSpec, vni: 16777216 }, 'spec.vni'],
  ['analyze as text', { ...baseSpec, analyze: 'yes' }, 'spec.analyze'],
  ['a pcap format', { ...baseSpec, targets: [{ pcap: { dir: '/var/lib/podspan', format: 'cap' } }] }, 'spec.targets[0].pcap.format'],
  ['rotateMB 0', { ...baseSpec, targets: [{ pcap: { dir: '/var/lib/podspan', rotateMB: 0 } }] }, 'spec.targets[0].pcap.rotateMB'],
  ['a store that is no s3:// URL', { ...baseSpec, targets: [{ pcap: { dir: '/var/lib/podspan', store: 'https://captures.example/x' } }] }, 'spec.targets[0].pcap.store'],
  ['storeSpoolMB 0', { ...baseSpec, targets: [{ pcap: { dir: '/var/lib/podspan', store: 's3://captures/x', storeSpoolMB: 0 } }] }, 'spec.targets[0].pcap.storeSpoolMB'],
  ['a streams target keeping 0 bytes', { ...baseSpec, targets: [{ streams: { dir: '/var/lib/podspan/s', maxBytes: 0 } }] }, 'spec.targets[0].streams.maxBytes'],
  ['a pcap target without dir', { ...baseSpec, targets: [{ pcap: {} }] }, 'spec.targets[0].pcap.dir'],
  ['a misspelt field', { ...baseSpec, filter: { prots: ['tcp'] } }, 'spec.filter.prots'],
  ['a misspelt top-level field', { ...baseSpec, sampleOneInN: 2 }, 'spec.sampleOneInN'],
];

/** Directories the CRD refuses for pcap and streams targets (stricter than the agent on purpose). */
export const dirsOutsideHostPath = ['/etc', '/var/lib/podspan/../../etc', '/var/lib/podspanx', 'captures'];
