// What the CLI's bundle gets for node:child_process (scripts/bundle-cli.js): the module, loaded at
// its first use rather than at start-up. commander requires it when it loads (for executable
// subcommands, which podspan has none of), and loading it pulls in net, dgram and the stream
// machinery: ~2 ms of every command's start (BENCHMARKS.md, issue 17). Only spawn-like calls
// made later, by -z, -Z or a compressed input, load it.
'use strict';
let loaded;
const load = () => (loaded ??= require('child_process'));
module.exports = new Proxy(
  {},
  {
    // TypeScript's interop asks for __esModule when the module is imported: not a use.
    get: (_, key) => (key === '__esModule' ? undefined : load()[key]),
    has: (_, key) => key in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(load(), key);
      return d && { ...d, configurable: true };
    },
  },
);
