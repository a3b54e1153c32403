/**
 * Builds the portal (packages/web/dist) when it is missing or older than its sources, so a
 * fresh clone gets it before `run up` or the browser tests need it. Prints what it did.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
export const WEB_DIR = join(ROOT, 'packages/web');
export const DIST_INDEX = join(WEB_DIR, 'dist/index.html');
const SOURCES = [
  'packages/web/src',
  'packages/web/index.html',
  'packages/web/vite.config.ts',
  'packages/core/src',
  'packages/api/src',
].map((p) => join(ROOT, p));

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const e of readdirSync(path)) m = Math.max(m, newest(join(path, e)));
  return m;
}

/** True when the built portal is older than any of its sources (or absent). */
export function portalStale(): boolean {
  if (!existsSync(DIST_INDEX)) return true;
  const built = statSync(DIST_INDEX).mtimeMs;
  return SOURCES.some((s) => existsSync(s) && newest(s) > built);
}

export function ensurePortalBuilt(log: (s: string) => void = console.log): void {
  if (!portalStale()) return;
  log('building the portal (packages/web) with vite…');
  const vite = join(WEB_DIR, 'node_modules/vite/bin/vite.js');
  const r = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
    cwd: WEB_DIR,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`vite build failed (exit ${r.status ?? r.signal})`);
}

if (import.meta.filename === process.argv[1]) ensurePortalBuilt();
