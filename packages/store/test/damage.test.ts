/**
 * A damaged disk under a store: flipped, truncated and deleted LevelDB files. Every refusal names
 * the data directory, the damaged file, what is wrong and the recovery; a write-ahead log that
 * lost consensus writes the node had acknowledged is refused instead of silently truncated.
 */
import {
  copyFileSync,
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EhrError } from '@ehr/core';
import { afterAll, describe, expect, it } from 'vitest';
import { damagedFiles } from '../src/damage.ts';
import { findDamagedTables, scanWriteAheadLogs } from '../src/leveldb-files.ts';
import { MARKER_FILE } from '../src/raft-marker.ts';
import { Store } from '../src/store.ts';
import { verifyStore } from '../src/verify.ts';
import { buildChain, testGenesis, testKeys } from './chain.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ehr-damage-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const keys = testKeys(1);
const genesis = testGenesis(keys);
const files = (dir: string, ext: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith(ext))
    .map((n) => join(dir, n));

/** Opens and fully verifies, as a node does at start; returns the refusal. */
async function refusal(dir: string): Promise<EhrError> {
  let store: Store | undefined;
  try {
    store = await Store.open(dir, genesis);
    await verifyStore(store);
  } catch (err) {
    expect(err).toBeInstanceOf(EhrError);
    return err as EhrError;
  } finally {
    await store?.close();
  }
  throw new Error(`the store at ${dir} opened and verified`);
}

function expectClear(err: EhrError, dir: string, file?: string) {
  expect(err.message).toContain(dir);
  if (file) expect(err.message).toContain(file);
  expect(err.message).toMatch(/move .* aside/i);
  expect(err.message).toMatch(/same key and the same genesis/);
}

/** A store whose consensus log holds `saves` synced saves of ~3 KB entries, left in its .log. */
async function storeWithLog(saves: number): Promise<string> {
  const dir = tempDir();
  const store = await Store.open(dir, genesis);
  for (let i = 1; i <= saves; i++) {
    const data = new Uint8Array(3000).fill(i % 251);
    await store.raft.save([{ index: i, term: 1 + (i >> 3), type: 'block', data }], {
      term: 1 + (i >> 3),
      vote: 'ab'.repeat(32),
      commit: i - 1,
    });
  }
  await store.close();
  return dir;
}

/** A store whose blocks were moved from the write-ahead log into a table (.ldb). */
async function storeWithTable(): Promise<string> {
  const dir = tempDir();
  let store = await Store.open(dir, genesis);
  await buildChain(store, keys, 20);
  await store.close();
  store = await Store.open(dir, genesis); // LevelDB turns the log into a level-0 table
  await store.close();
  expect(files(dir, '.ldb').length).toBeGreaterThan(0);
  return dir;
}

describe('damaged write-ahead log (consensus writes acknowledged, then lost)', () => {
  it('an intact store reopens with its whole consensus log', async () => {
    const dir = await storeWithLog(40);
    const store = await Store.open(dir, genesis);
    expect(store.raft.lastIndex).toBe(40);
    expect(store.raft.position.seq).toBe(40);
    await store.close();
  });

  it('a byte flipped in the middle of the .log is refused before LevelDB can skip it, naming file and offset', async () => {
    const dir = await storeWithLog(40);
    const [log] = files(dir, '.log');
    const bytes = readFileSync(log!);
    const before = bytes.length;
    bytes[Math.floor(bytes.length / 3)]! ^= 0x01;
    writeFileSync(log!, bytes);
    const err = await refusal(dir);
    expect(err.code).toBe('STORE_LOG_DAMAGED');
    expectClear(err, dir, log);
    expect(err.message).toMatch(/at byte \d+: checksum mismatch/);
    // LevelDB never opened it: the evidence is still there, unchanged.
    expect(readFileSync(log!).length).toBe(before);
    // Refused again on the next start, not "repaired" by the first attempt.
    expect((await refusal(dir)).code).toBe('STORE_LOG_DAMAGED');
  });

  it('a byte flipped in the last record is refused as lost writes', async () => {
    const dir = await storeWithLog(40);
    const [log] = files(dir, '.log');
    const bytes = readFileSync(log!);
    bytes[bytes.length - 100]! ^= 0x01;
    writeFileSync(log!, bytes);
    const err = await refusal(dir);
    expect(err.code).toBe('STORE_LOST_WRITES');
    expectClear(err, dir, join(dir, MARKER_FILE));
    expect(err.message).toContain('save #40');
    expect(err.message).toContain(`${log} at byte`);
  });

  it('a .log cut in half is refused, and stays refused on the next start', async () => {
    const dir = await storeWithLog(40);
    const [log] = files(dir, '.log');
    truncateSync(log!, Math.floor(readFileSync(log!).length / 2));
    const err = await refusal(dir);
    expect(err.code).toBe('STORE_LOST_WRITES');
    expectClear(err, dir, join(dir, MARKER_FILE));
    expect(err.message).toMatch(/LevelDB holds save #(\d+) .* records save #40/);
    // LevelDB has rewritten what it could read by now; the marker still knows.
    expect((await refusal(dir)).code).toBe('STORE_LOST_WRITES');
  });

  it('a deleted .log is refused', async () => {
    const dir = await storeWithLog(40);
    for (const f of files(dir, '.log')) unlinkSync(f);
    const err = await refusal(dir);
    expect(err.code).toBe('STORE_LOST_WRITES');
    expectClear(err, dir);
    expect(err.message).toContain('No write-ahead log');
  });

  it('an older copy of LevelDB with the newer marker is refused (a partial restore)', async () => {
    const dir = tempDir();
    const backup = tempDir();
    let store = await Store.open(dir, genesis);
    const e = (i: number) => ({ index: i, term: 1, type: 'noop' as const, data: new Uint8Array() });
    await store.raft.save([e(1), e(2)], { term: 1, vote: null, commit: 0 });
    await store.close();
    cpSync(dir, backup, { recursive: true });
    store = await Store.open(dir, genesis);
    await store.raft.save([e(3)], undefined);
    await store.close();
    for (const n of readdirSync(dir)) if (n !== MARKER_FILE) rmSync(join(dir, n));
    for (const n of readdirSync(backup))
      if (n !== MARKER_FILE) copyFileSync(join(backup, n), join(dir, n));
    expect((await refusal(dir)).code).toBe('STORE_LOST_WRITES');
  });

  it('LevelDB one save ahead of the marker (a crash between the two writes) is accepted', async () => {
    const dir = tempDir();
    let store = await Store.open(dir, genesis);
    const e = (i: number, t: number) => ({
      index: i,
      term: t,
      type: 'noop' as const,
      data: new Uint8Array(),
    });
    await store.raft.save([e(1, 1), e(2, 1), e(3, 1)], { term: 1, vote: null, commit: 0 });
    const older = readFileSync(join(dir, MARKER_FILE));
    // A new leader's term replaces the suffix: the marker misses exactly this save.
    await store.raft.save([e(2, 2)], { term: 2, vote: 'cd'.repeat(32), commit: 1 });
    await store.close();
    writeFileSync(join(dir, MARKER_FILE), older);
    store = await Store.open(dir, genesis);
    expect(store.raft.lastIndex).toBe(2);
    expect(store.raft.position).toMatchObject({ seq: 2, lastIndex: 2, lastTerm: 2, term: 2 });
    await store.close();
  });

  it('a missing or damaged marker is refused; one torn slot is not', async () => {
    const dir = await storeWithLog(5);
    const marker = join(dir, MARKER_FILE);
    const good = readFileSync(marker);
    const oneSlot = Buffer.from(good);
    oneSlot[10]! ^= 0xff; // slot 0; slot 1 (the latest save, #5) is intact
    writeFileSync(marker, oneSlot);
    const store = await Store.open(dir, genesis);
    expect(store.raft.position.seq).toBe(5);
    await store.close();
    const both = readFileSync(marker);
    both[10]! ^= 0xff;
    both[266]! ^= 0xff;
    writeFileSync(marker, both);
    const damaged = await refusal(dir);
    expect(damaged.code).toBe('STORE_MARKER_DAMAGED');
    expectClear(damaged, dir, marker);
    unlinkSync(marker);
    const missing = await refusal(dir);
    expect(missing.code).toBe('STORE_MARKER_MISSING');
    expectClear(missing, dir, marker);
  });
});

describe('damaged tables (.ldb)', () => {
  it('every flipped byte that is refused names the table file and the recovery', async () => {
    const dir = await storeWithTable();
    const [ldb] = files(dir, '.ldb');
    const original = readFileSync(ldb!);
    let refused = 0;
    for (const frac of [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95]) {
      const bytes = Buffer.from(original);
      bytes[Math.floor(bytes.length * frac)]! ^= 0x10;
      writeFileSync(ldb!, bytes);
      const err = await refusal(dir).catch(() => undefined);
      if (!err) continue;
      refused++;
      expect(['STORE_CORRUPT', 'STORE_DAMAGED']).toContain(err.code);
      expectClear(err, dir, ldb);
      expect(err.message).toMatch(/checksum mismatch/);
    }
    expect(refused).toBeGreaterThanOrEqual(5);
  });

  it('a table cut in half is refused naming the file, what is wrong and the recovery', async () => {
    const dir = await storeWithTable();
    const [ldb] = files(dir, '.ldb');
    truncateSync(ldb!, Math.floor(readFileSync(ldb!).length / 2));
    const err = await refusal(dir);
    expect(err.code).toBe('STORE_DAMAGED');
    expectClear(err, dir, ldb);
    expect(err.message).toMatch(/truncated/);
    expect(err.message).toContain('Invalid argument');
  });

  it('a deleted table is refused naming the file', async () => {
    const dir = await storeWithTable();
    const [ldb] = files(dir, '.ldb');
    unlinkSync(ldb!);
    const err = await refusal(dir);
    expectClear(err, dir, ldb!.split('/').at(-1));
  });

  it('a file listed and then gone (a compaction of the open database) is not reported, nor does it hide the rest', async () => {
    const dir = await storeWithTable();
    // Listed by readdir, gone at read: what a compaction does between the two.
    symlinkSync(join(dir, 'gone-1.ldb'), join(dir, '999998.ldb'));
    symlinkSync(join(dir, 'gone-2.log'), join(dir, '999999.log'));
    expect(findDamagedTables(dir)).toEqual([]);
    expect(scanWriteAheadLogs(dir).damage).toEqual([]);
    expect(damagedFiles(dir)).toBeUndefined();
    // A real damage beside it is still found and named.
    const [ldb] = files(dir, '.ldb').filter((f) => !f.includes('99999'));
    truncateSync(ldb!, Math.floor(readFileSync(ldb!).length / 2));
    expect(findDamagedTables(dir).map((d) => d.file)).toEqual([ldb]);
  });
});
