// What the agent needs to know about the pods on its node and the MirrorSession resources.
// src/k8s watches the Kubernetes API and hands these over; src/agent decides what to capture.

export interface PodInfo {
  uid: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** status.podIPs (IPv4 and/or IPv6). */
  ips: string[];
  hostNetwork: boolean;
  /** status.phase: Pending, Running, Succeeded, Failed, Unknown. */
  phase: string;
  nodeName: string;
  /** Container ports with their protocol (spec.containers[].ports[]), for hostNetwork pods' filters. */
  containerPorts: ContainerPort[];
}

/**
 * A MirrorSession (namespaced, a tenant's) or ClusterMirrorSession (an operator's) resource
 * (podspan.io/v1alpha1): its name and its spec, not yet validated.
 */
export interface MirrorSessionResource {
  kind: 'MirrorSession' | 'ClusterMirrorSession';
  /** '' for a ClusterMirrorSession. */
  namespace: string;
  name: string;
  resourceVersion: string;
  /** metadata.uid: Events name the resource by it. */
  uid?: string;
  spec: unknown;
  /** The status the agents wrote (every node's share), as last seen. */
  status?: unknown;
  /**
   * A MirrorSession's view of Secret podspan-mirror-credentials in its namespace: its data
   * (decoded), or undefined when there is none the agent can read.
   */
  credentialsSecret?: Record<string, Buffer>;
}

/** Receives the full current set after every change (so consumers never apply deltas). */
export type PodsListener = (pods: Map<string, PodInfo>) => void;
export type MirrorSessionsListener = (sessions: MirrorSessionResource[]) => void;

export interface ContainerPort {
  port: number;
  /** TCP (Kubernetes' default), UDP or SCTP. */
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** Which resource: enough to address it in the API (its status, an Event about it). */
export interface ResourceRef {
  kind: MirrorSessionResource['kind'];
  /** '' for a ClusterMirrorSession. */
  namespace: string;
  name: string;
}
