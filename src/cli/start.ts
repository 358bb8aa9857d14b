// How `podspan` starts: from one bundle of the CLI (its modules with commander and zod, made by
// scripts/bundle-cli.js) compiled from V8's code cache, else from the compiled modules. Every
// command pays its start-up before any work, and most of what Node 20 spends there on our code is
// resolving ~40 files and compiling them (Node 22's module.enableCompileCache is not in Node 20).
// Only Node's built-ins load here, so this file costs nothing of what it saves.
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

export const BUNDLE = 'podspan-cli.js';
export const CODE_CACHE = 'podspan-cli.js.cache';
/** Set (to anything) when the build runs a command only to write the code cache at its exit. */
export const WRITE_CACHE_ENV = 'PODSPAN_WRITE_CODE_CACHE';

/** What the cache file starts with: the bundle it was made for (size, modification time). */
const HEADER_BYTES = 16;

export interface LoadedCli {
  main(argv: string[]): Promise<void> | void;
}

export interface Start {
  cli: LoadedCli;
  /** bundle: the bundle ran; files: main.js and its modules (no bundle, or one older than them). */
  from: 'bundle' | 'files';
  /** used: V8 took the cached code; rejected: V8 refused it (another Node); none: no cache for this bundle. */
  cache: 'used' | 'rejected' | 'none';
}

function mtimeNs(file: string): bigint | undefined {
  try {
    return fs.statSync(file, { bigint: true }).mtimeNs;
  } catch {
    return undefined;
  }
}

function header(stat: fs.BigIntStats): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeBigUInt64LE(stat.size, 0);
  h.writeBigUInt64LE(stat.mtimeNs, 8);
  return h;
}

/** The cached code made for exactly this bundle (V8 itself checks only the source's length). */
function cachedCode(cacheFile: string, bundle: fs.BigIntStats): Buffer | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  if (data.length <= HEADER_BYTES || !data.subarray(0, HEADER_BYTES).equals(header(bundle))) return undefined;
  return data.subarray(HEADER_BYTES);
}

/** Loads the CLI from `dir` (dist/cli): the bundle when it is at least as new as main.js, else main.js. */
export function loadCli(dir: string): Start {
  const bundlePath = path.join(dir, BUNDLE);
  const bundleTime = mtimeNs(bundlePath);
  const filesTime = mtimeNs(path.join(dir, 'main.js'));
  // A bundle older than the modules (tsc ran after it) would run old code: the modules win.
  if (bundleTime === undefined || (filesTime !== undefined && filesTime > bundleTime)) {
    return { cli: require(path.join(dir, 'main.js')) as LoadedCli, from: 'files', cache: 'none' };
  }
  const stat = fs.statSync(bundlePath, { bigint: true });
  const source = fs.readFileSync(bundlePath, 'utf8');
  const cacheFile = path.join(dir, CODE_CACHE);
  const cachedData = cachedCode(cacheFile, stat);
  const script = new vm.Script(Module.wrap(source), { filename: bundlePath, cachedData });
  const cache = cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'used';
  const mod = { exports: {} as LoadedCli, filename: bundlePath, id: bundlePath, loaded: false };
  const wrapper = script.runInThisContext() as (exports: unknown, req: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  wrapper.call(mod.exports, mod.exports, Module.createRequire(bundlePath), mod, bundlePath, dir);
  mod.loaded = true;
  // After the command ran, so the cache holds the functions it compiled too, not the top level alone.
  if (process.env[WRITE_CACHE_ENV]) process.once('exit', () => fs.writeFileSync(cacheFile, Buffer.concat([header(stat), script.createCachedData()])));
  return { cli: mod.exports, from: 'bundle', cache };
}
