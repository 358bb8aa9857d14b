// tcpdump's -Z: once the interfaces (or the file read) and the first output file are open, the
// process gives up root for an ordinary user. Later files (rotation) are then created as that
// user, and a flaw in a packet printer or parser runs without root.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

function parsePasswdLine(line: string): SystemUser | undefined {
  const [name, , uid, gid] = line.split(':');
  if (!name || !/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? '')) return undefined;
  return { name, uid: Number(uid), gid: Number(gid) };
}

/** The user of that name (or numeric id) as the system knows it (getent: NSS too), or undefined. */
export function lookUpUser(nameOrId: string): SystemUser | undefined {
  const r = spawnSync('getent', ['passwd', nameOrId], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout) return parsePasswdLine(r.stdout.split('\n')[0]);
  if (r.error === undefined) return undefined; // getent answered: no such user
  // No getent: /etc/passwd alone.
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const u = parsePasswdLine(line);
      if (u && (u.name === nameOrId || String(u.uid) === nameOrId)) return u;
    }
  } catch {
    // unreadable: no such user known
  }
  return undefined;
}

/**
 * Hands `files` (already created) to `user`, then becomes that user: its groups, group and id.
 * Throws the system's error (EPERM without root) with nothing changed but the files' owner.
 */
export function becomeUser(user: SystemUser, files: string[]): void {
  const proc = process as NodeJS.Process & { initgroups?: (user: string, group: number) => void };
  if (!proc.initgroups || !proc.setgid || !proc.setuid) throw Object.assign(new Error('not supported on this system'), { code: 'ENOSYS' });
  for (const f of files) fs.chownSync(f, user.uid, user.gid);
  proc.initgroups(user.name, user.gid);
  proc.setgid(user.gid);
  proc.setuid(user.uid);
}
