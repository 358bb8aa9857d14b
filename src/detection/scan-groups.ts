// The agent opens one capture per pod, so a scan spread over a session's pods shows each capture a
// few targets only. Each session with detect gets one native scan group on this node
// (native/core/detection/scan_group.h): its captures judge port_scan together, and its alerts
// carry ids S1, S2, ... (a capture's own are A1, A2, ...).
import { native, type NativeScanGroup } from '../capture/native';
import type { ResolvedSession } from '../config/agent-config';
import { nativeDetectOptions } from '../config/detect-options';

export class ScanGroups {
  private readonly groups = new Map<string, { settings: string; group: NativeScanGroup }>();

  /** The session's group (a new one when its detect settings changed: their captures restart too). */
  of(session: ResolvedSession): NativeScanGroup | undefined {
    if (!session.detectSettings) return undefined;
    const options = nativeDetectOptions(session.detectSettings, false);
    const settings = JSON.stringify(options);
    let g = this.groups.get(session.name);
    if (!g || g.settings !== settings) {
      g = { settings, group: new (native().NativeScanGroup)(options) };
      this.groups.set(session.name, g);
    }
    return g.group;
  }

  /** Forgets the groups of sessions not in `sessions` (their captures keep theirs until they end); returns their names. */
  keepOnly(sessions: ReadonlySet<string>): string[] {
    const gone = [...this.groups.keys()].filter((name) => !sessions.has(name));
    for (const name of gone) this.groups.delete(name);
    return gone;
  }
}

/** The scope a session's group alerts are kept under in the alert metrics. */
export function sessionAlertScope(session: string): string {
  return `session ${session}`;
}

/** The scope an alert's metrics are kept under: its capture's, or for a group's alert (S1, ...) its session's. */
export function alertScope(alertId: string, capture: { key: string; session: string }): string {
  return alertId.startsWith('S') ? sessionAlertScope(capture.session) : capture.key;
}
