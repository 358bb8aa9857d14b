// Lists the addon's sources for binding.gyp (gyp has no glob): every .cc under native/core
// (one folder per layer) and native/addon (one file per area), so neither build keeps a list;
// plus llhttp's C sources where Debian's node-llhttp installs them, compiled from there and never
// copied into the repository: gyp writes an object path from each source path, which breaks for
// a file outside the package, so native/addon/llhttp/*.c include them by name instead.
// `--llhttp-include` prints the folder holding llhttp.h, `--llhttp-source` the one holding llhttp.c.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
function sources(dir) {
  return fs
    .readdirSync(path.join(root, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.cc') ? [path.join(dir, e.name)] : []))
    .sort();
}

// Where node-llhttp (Debian/Ubuntu) puts llhttp's sources and header; LLHTTP_DIR, when set, is
// the only place looked at (a folder holding llhttp.c, api.c, http.c and llhttp.h).
const override = process.env.LLHTTP_DIR ? [process.env.LLHTTP_DIR] : null;
const llhttpSourceDirs = override || ['/usr/share/llhttp', '/usr/local/share/llhttp'];
const llhttpIncludeDirs = override || ['/usr/share/include/llhttp', '/usr/include/llhttp', '/usr/local/include'];
const llhttpFiles = ['llhttp.c', 'api.c', 'http.c'];

/** The first of `dirs` holding `file`, or undefined. */
function findDir(dirs, file) {
  return dirs.find((d) => d && fs.existsSync(path.join(d, file)));
}
const llhttpMissing = 'install node-llhttp (Debian/Ubuntu: apt-get install node-llhttp)';

function mustFind(dirs, file) {
  const dir = findDir(dirs, file);
  if (!dir) {
    console.error(`podspan: llhttp's ${file} not found: ${llhttpMissing}`);
    process.exit(1);
  }
  return dir;
}

module.exports = { llhttpSourceDirs, llhttpIncludeDirs, findDir, llhttpMissing };

if (require.main === module) {
  if (process.argv.includes('--llhttp-include')) {
    console.log(mustFind(llhttpIncludeDirs, 'llhttp.h'));
  } else if (process.argv.includes('--llhttp-source')) {
    console.log(mustFind(llhttpSourceDirs, 'llhttp.c'));
  } else {
    const wrappers = llhttpFiles.map((f) => path.join('native', 'addon', 'llhttp', `llhttp_${f}`));
    console.log([...sources('native/core'), ...sources('native/addon'), ...wrappers].join(' '));
  }
}
