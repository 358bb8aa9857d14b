// How `podspan` starts: from one bundle of the CLI (its modules with commander and zod, made by
// scripts/bundle-cli.js) compiled from V8's code cache, else from the compiled modules. Every
// command pays its start-up before any work, and most of what Node 20 spends there on our code is
// resolving ~40 files and compiling them (Node 22's module.enableCompileCache is not in Node 20).
// Only Node's built-ins load here, so this file costs nothing of what it saves.
import { isAscii } from 'node:buffer';
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

export const BUNDLE = 'podspan-cli.js';
export const CODE_CACHE = 'podspan-cli.js.cache';
/** Set (to anything) when the build runs a command only to write the code cache at its exit. */
export const WRITE_CACHE_ENV = 'PODSPAN_WRITE_CODE_CACHE';

/**
 * The bundle's last line names its build; the cache file starts with the same name, so a cache
 * is used only with the bundle it was made from. V8 itself checks only the source's length, and
 * modification times do not survive an install (npm's tarballs set every file's to 1985).
 */
export const BUILD_MARK = '\n// podspan-cli build ';
const BUILD_ID_BYTES = 36; // a UUID

function buildId(source: string): string | undefined {
  const at = source.lastIndexOf(BUILD_MARK);
  if (at < 0) return undefined;
  const id = source.slice(at + BUILD_MARK.length, at + BUILD_MARK.length + BUILD_ID_BYTES);
  return id.length === BUILD_ID_BYTES ? id : undefined;
}

/** The cached code made for this build of the bundle, if any. */
function cachedCode(cacheFile: string, id: string | undefined): Buffer | undefined {
  if (id === undefined) return undefined;
  let data: Buffer;
  try {
    data = fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  if (data.length <= BUILD_ID_BYTES || data.toString('latin1', 0, BUILD_ID_BYTES) !== id) return undefined;
  return data.subarray(BUILD_ID_BYTES);
}

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

/** Loads the CLI from `dir` (dist/cli): the bundle when it is at least as new as main.js, else main.js. */
export function loadCli(dir: string): Start {
  const bundlePath = path.join(dir, BUNDLE);
  const bundleTime = mtimeNs(bundlePath);
  const filesTime = mtimeNs(path.join(dir, 'main.js'));
  // A bundle older than the modules (tsc ran after it) would run old code: the modules win.
  if (bundleTime === undefined || (filesTime !== undefined && filesTime > bundleTime)) {
    return { cli: require(path.join(dir, 'main.js')) as LoadedCli, from: 'files', cache: 'none' };
  }
  // The bundle is ASCII (scripts/bundle-cli.js): read a byte per character, without UTF-8's decoding.
  const bytes = fs.readFileSync(bundlePath);
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  const cacheFile = path.join(dir, CODE_CACHE);
  const id = buildId(source);
  const cachedData = cachedCode(cacheFile, id);
  const script = new vm.Script(Module.wrap(source), { filename: bundlePath, cachedData });
  const cache = cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'used';
  const mod = { exports: {} as LoadedCli, filename: bundlePath, id: bundlePath, loaded: false };
  const wrapper = script.runInThisContext() as (exports: unknown, req: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  wrapper.call(mod.exports, mod.exports, Module.createRequire(bundlePath), mod, bundlePath, dir);
  mod.loaded = true;
  // After the command ran, so the cache holds the functions it compiled too, not the top level alone.
  if (process.env[WRITE_CACHE_ENV] && id !== undefined) {
    process.once('exit', () => {
      try {
        fs.writeFileSync(cacheFile, Buffer.concat([Buffer.from(id, 'latin1'), script.createCachedData()]));
      } catch {
        // A read-only install: podspan runs without the cache, as it would without the build step.
      }
    });
  }
  return { cli: mod.exports, from: 'bundle', cache };
}
