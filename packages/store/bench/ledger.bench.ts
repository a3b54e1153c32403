/**
 * bench:ledger - apply throughput of a realistic mix of EHR transactions into a real on-disk
 * LevelDB: every transaction's signature verified, every block one synced batch.
 * Prints a table and writes .bench/ledger.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  blockHash,
  encodeBlock,
  encodeTx,
  publicKeyOf,
  sha256,
  signBlock,
  signTx,
  toHex,
  txRootOf,
  utf8,
  type ValueMap,
} from '@ehr/core';
import { applyBlock, BlockBuilder, makeGenesis } from '@ehr/ledger';
import { intFlag, scriptArgs } from '../../../scripts/args.ts';
import { Store } from '../src/store.ts';

const USAGE = `
usage: node packages/store/bench/ledger.bench.ts [--patients 500]   (or: pnpm run bench:ledger -- --patients 500)
  --patients N   patients in the mix (default 500; or BENCH_PATIENTS)
  --help         this text`;
const { values } = scriptArgs(USAGE, { patients: { type: 'string' } });

const CHAIN = 'bench-ledger';
const key = (s: string) => sha256(utf8(s));
const admin = key('admin');
const node = key('node');
const genesis = makeGenesis({
  chainId: CHAIN,
  genesisTime: 1_700_000_000_000,
  admins: [publicKeyOf(admin)],
  validators: [publicKeyOf(node)],
});
const tx = (secret: Uint8Array, nonce: number, kind: string, payload: ValueMap) =>
  encodeTx(signTx({ chainId: CHAIN, author: publicKeyOf(secret), nonce, kind, payload }, secret));
const wrapped = new Uint8Array(80).fill(3);

/** A realistic mix: each patient signs up, submits two reports and grants consent. */
function workload(patients: number) {
  const setup = [
    tx(admin, 0, 'hospital.register', {
      id: 'city',
      name: 'City General',
      address: '1 Main St',
      specializations: ['cardiology', 'dermatology'],
      contact: 'desk@city.example',
      nodes: [],
      encryptionKey: key('city-enc'),
    }),
  ];
  const txs: { tx: Uint8Array; body?: Uint8Array }[] = [];
  for (let p = 0; p < patients; p++) {
    const sk = key(`patient ${p}`);
    const profile = utf8(`sealed profile ${p}`.padEnd(300, '.'));
    txs.push({
      tx: tx(sk, 0, 'patient.register', {
        profileHash: sha256(profile),
        profileSize: profile.length,
        profileKey: wrapped,
      }),
      body: profile,
    });
    for (let r = 0; r < 2; r++) {
      const report = utf8(`sealed report ${p} ${r}`.padEnd(2000, '.'));
      txs.push({
        tx: tx(sk, 1 + r, 'record.submit', {
          hospital: 'city',
          specialization: 'cardiology',
          payloadHash: sha256(report),
          payloadSize: report.length,
          patientKey: wrapped,
          hospitalKeys: { city: wrapped },
        }),
        body: report,
      });
    }
    txs.push({ tx: tx(sk, 3, 'consent.grant', { hospital: 'city', scope: 'all' }) });
  }
  return { setup, txs };
}

async function run(blockSize: number, patients: number) {
  const dir = mkdtempSync(join(tmpdir(), 'ehr-bench-ledger-'));
  const store = await Store.open(dir, genesis);
  const { setup, txs } = workload(patients);
  // Blocks are built up front (as the leader does); the measured part is what every node does
  // with a committed block: verify every signature, apply the rules, write one synced batch.
  const commit = async (items: { tx: Uint8Array; body?: Uint8Array }[]) => {
    const head = store.head();
    const bodies = new Map(
      items.filter((i) => i.body).map((i) => [toHex(sha256(i.body!)), i.body!]),
    );
    const b = await BlockBuilder.open(store.state, {
      height: head.height + 1,
      time: head.time + 1,
      payloads: bodies,
    });
    for (const i of items) {
      const r = await b.add(i.tx);
      if (r === 'full' || !r.ok)
        throw new Error(`bench tx rejected: ${r === 'full' ? 'full' : `${r.code} ${r.message}`}`);
    }
    const draft = b.finish(head.stateHash);
    const header = {
      chainId: CHAIN,
      height: head.height + 1,
      prevHash: head.hash,
      term: 1,
      proposer: publicKeyOf(node),
      time: head.time + 1,
      txCount: b.txs.length,
      txRoot: txRootOf(b.txs),
      stateHash: draft.stateHash,
    };
    const block = signBlock(header, b.txs, node);
    return { block, bodies };
  };
  // What every node does with a committed block: verify, apply the rules, one synced batch.
  const applyAndStore = async ({ block, bodies }: Awaited<ReturnType<typeof commit>>) => {
    const r = await applyBlock(store.state, block, bodies, {
      prevStateHash: store.head().stateHash,
    });
    await store.commitBlock({
      blockBytes: encodeBlock(block),
      header: block.header,
      hash: blockHash(block.header),
      height: block.header.height,
      stateHash: r.stateHash,
      time: block.header.time,
      receipts: r.receipts,
      writes: r.writes,
      payloads: bodies,
      erased: [],
      raftIndex: 0,
    });
  };
  await applyAndStore(await commit(setup.map((t) => ({ tx: t }))));
  let applied = 0;
  let elapsed = 0;
  // Transactions of one patient depend on each other by nonce; a block takes whole groups in order.
  for (let i = 0; i < txs.length; i += blockSize) {
    const items = txs.slice(i, i + blockSize);
    const built = await commit(items);
    const t0 = performance.now();
    await applyAndStore(built);
    elapsed += performance.now() - t0;
    applied += items.length;
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    blockSize,
    txs: applied,
    seconds: elapsed / 1000,
    txPerSecond: Math.round(applied / (elapsed / 1000)),
  };
}

const patients = intFlag(USAGE, 'patients', values.patients, 500, {
  env: 'BENCH_PATIENTS',
  min: 1,
});
const results = [];
for (const size of [1, 10, 100, 500]) {
  const r = await run(size, patients);
  results.push(r);
  console.log(
    `block size ${String(size).padStart(4)}: ${String(r.txPerSecond).padStart(7)} tx/s (${r.txs} tx in ${r.seconds.toFixed(2)} s)`,
  );
}
console.log('\n| txs per block | tx/s applied (verify + rules + synced batch) |\n|---:|---:|');
for (const r of results) console.log(`| ${r.blockSize} | ${r.txPerSecond} |`);
mkdirSync('.bench', { recursive: true });
writeFileSync(
  '.bench/ledger.json',
  `${JSON.stringify({ when: new Date().toISOString(), node: process.version, patients, results }, null, 2)}\n`,
);
console.log('\nwrote .bench/ledger.json');
