/**
 * The query index on disk: kept in the block's batch as the chain grows, and rebuilt from the
 * state when a store has none (one written before indexes existed) or one of another version.
 * Over a chain built by the generator (real rules, signatures, blocks and commits), the rebuilt
 * index is byte for byte the one kept block by block, and the lists read the same from both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex, utf8 } from '@ehr/core';
import { all, INDEX_VERSION, pageDoctorReports, pagePatientReports } from '@ehr/ledger';
import { afterAll, describe, expect, it } from 'vitest';
import { generateChain, genGenesis } from '../../../scripts/bench/gen-chain.ts';
import { Bucket, key } from '../src/buckets.ts';
import { Store } from '../src/store.ts';
import { verifyStore } from '../src/verify.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function dumpIndex(store: Store): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of store.db.range(new Uint8Array([Bucket.queryIndex]))) {
    out.push(`${toHex(k)}=${toHex(v)}`);
  }
  return out;
}

describe('query index in the store', () => {
  it('is rebuilt at open for a store without one, equal to the one kept block by block', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ehr-qx-'));
    dirs.push(dir);
    const genesis = genGenesis();
    let store = await Store.open(dir, genesis);
    const gen = await generateChain(store, { patients: 60, reports: 3, hospitals: 4, seed: 5 });
    expect(gen.records).toBeGreaterThan(100);
    const kept = await dumpIndex(store);
    expect(kept.length).toBeGreaterThan(gen.records);
    const doctor = gen.doctors[0]!.key.hex;
    const now = store.head().time;
    const listsOf = async (s: Store) => ({
      reports: await all((o) => pagePatientReports(s.state, gen.patients[3]!.hex, o)),
      doctor: await all((o) => pageDoctorReports(s.state, doctor, now, o)),
    });
    const want = await listsOf(store);
    expect(want.reports.length).toBeGreaterThan(0);
    expect(want.doctor.length).toBeGreaterThan(0);
    await verifyStore(store);

    // A store from before the index: no index bucket, no version.
    const drop: { type: 'del'; key: Uint8Array }[] = [];
    for await (const [k] of store.db.range(new Uint8Array([Bucket.queryIndex]))) {
      drop.push({ type: 'del', key: k });
    }
    drop.push({ type: 'del', key: key(Bucket.meta, utf8('index-version')) });
    await store.db.batch(drop, true);
    expect(await dumpIndex(store)).toEqual([]);
    expect(await store.indexVersion()).toBeUndefined();
    await store.close();

    store = await Store.open(dir, genesis);
    expect(await store.indexVersion()).toBe(INDEX_VERSION);
    expect(await dumpIndex(store)).toEqual(kept);
    expect(await listsOf(store)).toEqual(want);
    await verifyStore(store);

    // A half-built index (a crash during the rebuild: no version written) is built again.
    await store.db.batch(
      [
        { type: 'del', key: key(Bucket.meta, utf8('index-version')) },
        {
          type: 'put',
          key: key(Bucket.queryIndex, utf8('qx/stray/x')),
          value: new Uint8Array([1]),
        },
      ],
      true,
    );
    await store.close();
    store = await Store.open(dir, genesis);
    expect(await dumpIndex(store)).toEqual(kept);
    // Opening a current store rebuilds nothing.
    expect(await store.ensureIndex()).toBeNull();
    await store.close();
  }, 120_000);
});
