/**
 * Reads V8 CPU profiles (`node --cpu-prof`, e.g. from `bench:quick -- --profile DIR`) and prints
 * where the time went, summed over every profile in DIR: the top frames by self time, by total
 * time (a frame counted once per sample however often it recurs on the stack), and self time by
 * module (a package under node_modules, a workspace package, or Node's internals). When DIR holds
 * window.json (bench:quick writes it), only samples taken while the load ran count: start-up
 * (module loading, compiling) and shutdown stay out. Writes the same as JSON with `--json FILE`.
 *
 *   node scripts/bench/profile-top.ts DIR [--top 25] [--json FILE]
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { intFlag, scriptArgs } from '../args.ts';

const USAGE = `
usage: node scripts/bench/profile-top.ts DIR [flags]
  --top N       rows per table (default 25)
  --json FILE   also write the tables as JSON
  --help        this text`;
const { values, positionals } = scriptArgs(
  USAGE,
  { top: { type: 'string' }, json: { type: 'string' } },
  { positionals: 1 },
);
const dir = positionals[0];
if (!dir) {
  console.error(`missing DIR${USAGE}`);
  process.exit(2);
}
const TOP = intFlag(USAGE, 'top', values.top, 25, { min: 1 });

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package, a workspace package, Node itself, or V8. */
export function moduleOf(url: string): string {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return 'node:internal';
  const pnpm = url.match(/node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pnpm) return pnpm[1]!;
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (nm) return nm[1]!;
  const ws = url.match(/packages\/([^/]+)\/src\//);
  if (ws) return `@ehr/${ws[1]}`;
  return url.replace(/^file:\/\//, '');
}

function frameKey(f: CallFrame): string {
  const file = f.url.replace(/^.*\//, '') || '(native)';
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1} [${moduleOf(f.url)}]`;
}

const windowFile = join(dir, 'window.json');
const window = existsSync(windowFile)
  ? (JSON.parse(readFileSync(windowFile, 'utf8')) as { fromUs: number; toUs: number })
  : { fromUs: Number.NEGATIVE_INFINITY, toUs: Number.POSITIVE_INFINITY };
const self = new Map<string, number>();
const total = new Map<string, number>();
const byModule = new Map<string, number>();
let allMs = 0;
const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
if (files.length === 0) {
  console.error(`no .cpuprofile files in ${dir}`);
  process.exit(1);
}
for (const file of files) {
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Time per sample: the delta to the next sample (the last one gets the mean).
  const msById = new Map<number, number>();
  const mean = (p.endTime - p.startTime) / 1000 / Math.max(1, p.samples.length);
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    if (at < window.fromUs || at > window.toUs) continue;
    const next = p.timeDeltas[i + 1];
    const ms = next !== undefined ? next / 1000 : mean;
    msById.set(p.samples[i]!, (msById.get(p.samples[i]!) ?? 0) + ms);
  }
  for (const [id, ms] of msById) {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    // Idle and the program root are not work.
    if (name === '(idle)' || name === '(program)' || name === '(root)') continue;
    allMs += ms;
    const key = frameKey(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + ms);
    const mod = name === '(garbage collector)' ? '(gc)' : moduleOf(node.callFrame.url);
    byModule.set(mod, (byModule.get(mod) ?? 0) + ms);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = frameKey(byId.get(at)!.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + ms);
    }
  }
}

const rows = (m: Map<string, number>) =>
  [...m]
    .filter(([k]) => !k.startsWith('(root)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP)
    .map(([frame, ms]) => ({
      frame,
      ms: Math.round(ms),
      pct: +((100 * ms) / allMs).toFixed(1),
    }));
const out = {
  profiles: files.length,
  busyMs: Math.round(allMs),
  self: rows(self),
  total: rows(total),
  modules: rows(byModule),
};
console.log(`${files.length} profiles, ${out.busyMs} ms busy (idle excluded)`);
console.log('\nself time by module');
console.table(out.modules);
console.log('\ntop frames by self time');
console.table(out.self);
console.log('\ntop frames by total time');
console.table(out.total);
if (values.json) writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);
