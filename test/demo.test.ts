/** The README's demo command plays the three-role story against a running network. */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';

const DEMO = resolve(import.meta.dirname, '../scripts/demo.ts');
let cluster: TestCluster;
beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 3 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
});

const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [DEMO, ...args], { timeout: 120_000 });

describe('demo', () => {
  it('plays the story through three nodes, twice on the same network', async () => {
    for (let round = 0; round < 2; round++) {
      const { stdout } = await run(['--network', cluster.plan.dir]);
      expect(stdout).toMatch(/registered hospital city-general-[0-9a-f]{4}/);
      expect(stdout).toMatch(/Dr\. Heart reads it \(PENDING_REPORT\): "Chest pain/);
      expect(stdout).toMatch(/Dr\. Skin is refused: CONSENT_MISSING/);
      expect(stdout).toMatch(/Dr\. Skin may read it now \(CONSENT\)/);
      expect(stdout).toMatch(/prescription from Dr\. Amara Heart: "Aspirin 75 mg/);
      expect(stdout).toMatch(/Dr\. Skin is refused: CONSENT_REVOKED/);
      expect(stdout).toMatch(/Dr\. Amara Heart\s+read .*\(treatment\)/);
      expect(stdout).toMatch(/Dr\. Sam Skin\s+read .*\(coordination of care\)/);
      expect(stdout).toMatch(/^done:/m);
    }
  }, 240_000);

  it('says what to do when no network is running', async () => {
    const err = await run(['--network', '/nonexistent']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/no network at \/nonexistent: start one with/);
  });
});
