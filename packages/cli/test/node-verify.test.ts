/**
 * `ehr node verify --dir D` on real stores (real signed blocks through the store's own code),
 * damaged on disk: one byte flipped inside a LevelDB table where a block is stored, and where a
 * payload body is stored; a truncated table; a directory that is not a store; a store in use.
 */

import { randomBytes } from 'node:crypto';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '@ehr/store';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildChain,
  commitNext,
  patientTx,
  testGenesis,
  testKeys,
} from '../../store/test/chain.ts';
import { ehr } from './ehr.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const keys = testKeys(21);
const genesis = testGenesis(keys);

/**
 * A closed store of 10 blocks whose block 9 registers a patient with a 3,000-byte random
 * (incompressible) profile body; opened and closed once more so LevelDB moved everything from
 * its log into a table file. Returns the dir, the body and block 9's bytes.
 */
async function realStore() {
  const dir = mkdtempSync(join(tmpdir(), 'ehr-node-verify-'));
  dirs.push(dir);
  const store = await Store.open(dir, genesis);
  await buildChain(store, keys, 8);
  const body = new Uint8Array(randomBytes(3000));
  await commitNext(store, keys, [patientTx(testKeys(22).patient, body)], [body]);
  const other = new Uint8Array(randomBytes(900));
  await commitNext(store, keys, [patientTx(testKeys(23).patient, other)], [other]);
  const block9 = (await store.blockBytes(9))!;
  await store.close();
  await (await Store.open(dir, genesis)).close();
  return { dir, body, block9 };
}

/**
 * Flips one byte where the first 40 bytes of `needle` are stored in a table file (LevelDB's
 * snappy keeps them as a literal; a later run of equal bytes may be a back-reference).
 */
function flipOnDisk(dir: string, needle: Uint8Array): string {
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ldb'))) {
    const bytes = readFileSync(join(dir, f));
    const at = bytes.indexOf(Buffer.from(needle.subarray(0, 40)));
    if (at >= 0) {
      bytes[at + 20]! ^= 0x20;
      writeFileSync(join(dir, f), bytes);
      return f;
    }
  }
  throw new Error('the bytes are not stored verbatim in any table file');
}

describe('ehr node verify', () => {
  it('passes an intact store, with plain progress lines off a terminal', async () => {
    const { dir } = await realStore();
    const r = await ehr(['node', 'verify', '--dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ok: .* verifies \(chain store-test\)/);
    expect(r.stdout).toMatch(/height 10: 10 blocks, 18 transactions/);
    // Not a terminal: plain lines, no carriage returns.
    expect(r.stderr).toMatch(/^verify: \d+% blocks \d+\/10, [\d.]+ MiB$/m);
    expect(r.stderr).not.toContain('\r');
    const json = await ehr(['node', 'verify', '--dir', dir, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      height: 10,
      blocks: 10,
      payloads: 3,
    });
  });

  it('a byte flipped on disk in a block: exit 7, naming the height, the key and the file', async () => {
    const { dir, block9 } = await realStore();
    const file = flipOnDisk(dir, block9);
    const r = await ehr(['node', 'verify', '--dir', dir]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/height 9/);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/STORE_(CORRUPT|DAMAGED)/);
    expect(r.stdout).not.toMatch(/^ok/);
  });

  it('a byte flipped on disk in a payload body: exit 7, naming the payload and the height that stored it', async () => {
    const { dir, body } = await realStore();
    const file = flipOnDisk(dir, body);
    const r = await ehr(['node', 'verify', '--dir', dir]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/height 9|payload/);
    expect(r.stderr).toContain(file);
  });

  it('a truncated table, a directory that is not a store, and a store in use are refused clearly', async () => {
    const { dir } = await realStore();
    const table = readdirSync(dir).find((n) => n.endsWith('.ldb'))!;
    truncateSync(join(dir, table), Math.floor(readFileSync(join(dir, table)).length / 2));
    const cut = await ehr(['node', 'verify', '--dir', dir]);
    expect(cut.code).toBe(7);
    expect(cut.stderr).toContain(table);

    const empty = mkdtempSync(join(tmpdir(), 'ehr-not-a-store-'));
    dirs.push(empty);
    const none = await ehr(['node', 'verify', '--dir', empty]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/not a node's data directory/);

    const good = await realStore();
    const held = await Store.open(good.dir, genesis);
    try {
      const busy = await ehr(['node', 'verify', '--dir', good.dir]);
      expect(busy.code).not.toBe(0);
      expect(busy.stderr).toMatch(/another node running/);
    } finally {
      await held.close();
    }
  });
});
