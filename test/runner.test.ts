/**
 * The local runner (scripts/cluster.ts) as an operator uses it, in a temp directory on free ports
 * (EHR_RUN_DIR, EHR_RUN_BASE_PORT): `up`, SIGKILL the leader, `up` again (issue 12, item 8: the
 * restarted node must stay up, not vanish after "gateway listening"), `status`, `down`. Every
 * daemon exit is logged with its reason and code.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RpcClient } from '@ehr/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeBasePort, until } from './harness/cluster.ts';

const SCRIPT = resolve(import.meta.dirname, '../scripts/cluster.ts');
const NODES = ['node1', 'node2', 'node3'];
let dir: string;
let env: NodeJS.ProcessEnv;

function runner(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile(
      process.execPath,
      [SCRIPT, ...args],
      { env, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        res({ code: typeof code === 'number' ? code : 1, out: stdout + stderr });
      },
    );
  });
}

const pid = (name: string) => Number(readFileSync(join(dir, `${name}.pid`), 'utf8'));
const alive = (p: number) => {
  try {
    process.kill(p, 0);
    return true;
  } catch {
    return false;
  }
};
const gateway = (name: string) => {
  const plan = JSON.parse(readFileSync(join(dir, 'network', 'network.json'), 'utf8')) as {
    nodes: { name: string; gatewayUrl: string }[];
  };
  return new RpcClient(plan.nodes.find((n) => n.name === name)!.gatewayUrl);
};
const status = (name: string) =>
  gateway(name)
    .status()
    .catch(() => undefined);
const log = (name: string) => readFileSync(join(dir, `${name}.log`), 'utf8');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ehr-runner-'));
  env = {
    ...process.env,
    EHR_RUN_DIR: dir,
    EHR_RUN_BASE_PORT: String(await freeBasePort(NODES.length + 1)),
  };
});

afterAll(async () => {
  await runner('down');
  for (const n of NODES) {
    try {
      const p = pid(n);
      if (alive(p)) process.kill(p, 'SIGKILL');
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('scripts/cluster.ts', () => {
  it('up, SIGKILL the leader, up again: the restarted node stays up and catches up; down stops all, each exit logged', async () => {
    const first = await runner('up', '--nodes', String(NODES.length));
    expect(first.out).toContain('leader');
    expect(first.code).toBe(0);
    expect(first.out).toContain(dir);

    const leader = await until('a leader', async () => {
      for (const n of NODES) if ((await status(n))?.role === 'leader') return n;
      return undefined;
    });
    const old = pid(leader);
    process.kill(old, 'SIGKILL');
    await until('the leader to die', async () => !alive(old));
    const down = await runner('status');
    expect(down.out).toMatch(new RegExp(`${leader}\\s+down`));

    const again = await runner('up');
    expect(again.out).not.toContain('exited');
    expect(again.code).toBe(0);
    const restarted = pid(leader);
    expect(restarted).not.toBe(old);
    // It stays up well after `up` returned, and follows the new leader.
    await new Promise((r) => setTimeout(r, 8000));
    expect(alive(restarted)).toBe(true);
    const s = await until('the restarted node to follow', async () => {
      const st = await status(leader);
      return st && st.role === 'follower' && st.leader ? st : undefined;
    });
    expect(s.leader).not.toBeNull();
    for (const n of NODES) expect(alive(pid(n))).toBe(true);

    const stopped = await runner('down');
    expect(stopped.out).toContain(`stopped ${NODES.length} node(s)`);
    for (const n of NODES) {
      expect(log(n)).toMatch(/"signal":"SIGTERM".*"msg":"stop requested"/);
      expect(log(n)).toMatch(/"code":0,"reason":"received SIGTERM","msg":"node process exiting"/);
    }
  }, 240_000);
});
