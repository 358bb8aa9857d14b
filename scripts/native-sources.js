// Lists the addon's C++ sources for binding.gyp (gyp has no glob): every .cc under native/core
// (one folder per layer) and native/addon (one file per area), so neither build keeps a list.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
function sources(dir) {
  return fs
    .readdirSync(path.join(root, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.cc') ? [path.join(dir, e.name)] : []))
    .sort();
}
console.log([...sources('native/core'), ...sources('native/addon')].join(' '));
