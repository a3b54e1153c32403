import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Store } from '../src/store.ts';
import { verifyStore } from '../src/verify.ts';
import { testGenesis, testKeys } from './chain.ts';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ehr-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer, SIGKILLs it after `ms`, returns the last height it reported committed. */
function runAndKill(ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'crash-writer.ts'), dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let last = 0;
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^committed (\d+)$/.exec(l);
        if (m) {
          last = Number(m[1]);
          // Kill a random while after the first commit, mid-write most of the time.
          if (!timer) timer = setTimeout(() => child.kill('SIGKILL'), ms);
        }
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own: ${err}`));
      else resolve(last);
    });
  });
}

describe('crash safety', () => {
  it('reopens consistent after SIGKILL at random points, many times', async () => {
    const keys = testKeys(7);
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const kills = Number(process.env.CRASH_KILLS ?? 12);
    let previous = 0;
    for (let i = 0; i < kills; i++) {
      const reported = await runAndKill(Math.floor(rand() * 150));
      const store = await Store.open(dir, testGenesis(keys));
      try {
        const head = store.head();
        // Every block reported committed survived; nothing was half-applied (verify replays all).
        expect(head.height).toBeGreaterThanOrEqual(reported);
        expect(head.height).toBeGreaterThanOrEqual(previous);
        const report = await verifyStore(store);
        expect(report.height).toBe(head.height);
        previous = head.height;
      } finally {
        await store.close();
      }
    }
    expect(previous).toBeGreaterThan(kills);
  }, 180_000);
});
