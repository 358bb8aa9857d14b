// One node's part in a MirrorSession or ClusterMirrorSession: what the agent reports in the
// resource's status (src/k8s/session-status.ts) and, for its problems, as Kubernetes Events
// (src/k8s/events.ts).
import type { PodInfo, ResourceRef } from '../k8s/types';

export interface ShareProblem {
  /** CaptureFailed: a capture could not start; TargetUnreachable: a collector is not connected; Refused: the agent will not run it. */
  reason: 'CaptureFailed' | 'TargetUnreachable' | 'Refused';
  message: string;
  /** What the problem is about (an interface, a target URL): an Event is told once per subject while the problem lasts, however its message changes. */
  subject: string;
  /** The pod concerned, when the problem is one pod's capture. */
  pod?: Pick<PodInfo, 'namespace' | 'name' | 'uid'>;
}

export interface NodeShare {
  resource: ResourceRef;
  /** Pods on this node the session selects. */
  pods: number;
  /** Captures running (one per interface). */
  captures: number;
  /** Packets captured, dropped (kernel ring full, or not forwarded) and frames forwarded, since each capture started. */
  captured: number;
  dropped: number;
  forwarded: number;
  problems: ShareProblem[];
}
