// The interface to capture on when none is named: the first that is up and running and not a
// loopback (as tcpdump picks), else any that is up.
import { InterfaceError } from '../errors';
import { listInterfaces } from './session';

export function defaultInterface(): string {
  const devices = listInterfaces();
  const pick =
    devices.find((d) => d.flags.includes('up') && d.flags.includes('running') && !d.flags.includes('loopback') && d.name !== 'any') ??
    devices.find((d) => d.flags.includes('up') && d.name !== 'any');
  if (!pick) throw new InterfaceError('no capturable interface is up; name one with -i');
  return pick.name;
}
