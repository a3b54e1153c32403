/**
 * Builds a realistic chain quickly, through the real thing: every transaction is signed with
 * Ed25519, run through the ledger's rules by BlockBuilder (signature checks included), every
 * block is signed and committed by Store.commitBlock (state, query indexes, bodies, write sets in
 * one batch), exactly as a node's apply path writes them. Nothing is hand-written bytes.
 *
 * The story: hospitals with specializations and doctors; patients sign up, submit reports to a
 * hospital (some attach a document), about half share everything with one hospital, doctors
 * prescribe on some pending reports, and the node records doctors' reads (audit events).
 *
 *   npx --yes pnpm@12.4.2 run gen-chain -- --dir D --patients 10000 --reports 10 [--seed 1]
 *
 * Blocks are committed with `durable: false`, as a node that keeps its consensus log commits them,
 * each with its entry's stub. The consensus log is compacted as a node with the default
 * `consensus.*` settings compacts it (flush, then drop all but a tail of 512 entries and
 * 64 MiB), so the data directory is what a long-running node holds; `--no-compact` keeps the
 * whole log (what nodes before compaction held). The store is closed (flushed) at the end.
 * 1,000 transactions a block; patients in cohorts of 2,000. Deterministic for a seed.
 */
import {
  encodeTx,
  publicKeyOf,
  seededRandom,
  sha256,
  sign,
  toHex,
  txSigningBytes,
  utf8,
  type ValueMap,
} from '@ehr/core';
import { makeGenesis } from '@ehr/ledger';
import type { Store } from '@ehr/store';
import { encodeBlockEntry } from '../../packages/node/src/block-entry.ts';
import { encodeSnapshotData } from '../../packages/node/src/compaction.ts';
import { CONFIG_DEFAULTS } from '../../packages/node/src/config.ts';
import { commitTxs } from '../../packages/store/test/chain.ts';

export const GEN_CHAIN_ID = 'ehr-gen';
const GENESIS_TIME = Date.UTC(2026, 0, 1);

export type Key = { secret: Uint8Array; key: Uint8Array; hex: string };
export function genKey(label: string): Key {
  const secret = sha256(utf8(`ehr-gen ${label}`));
  const key = publicKeyOf(secret);
  return { secret, key, hex: toHex(key) };
}

export const genAdmin = genKey('admin');
export const genNode = genKey('node');

export function genGenesis() {
  return makeGenesis({
    chainId: GEN_CHAIN_ID,
    genesisTime: GENESIS_TIME,
    admins: [genAdmin.key],
    validators: [genNode.key],
  });
}

const SPECIALIZATIONS = ['cardiology', 'dermatology', 'neurology', 'oncology', 'pediatrics'];

export type GenOpts = {
  patients: number;
  /** Reports per patient (on average). */
  reports: number;
  hospitals?: number;
  doctorsPerSpecialization?: number;
  seed?: number;
  /** Called after each block with the transactions committed so far. */
  progress?: (txs: number, height: number) => void;
  /** Compact the consensus log as a node does (default true); false keeps every entry. */
  compact?: boolean;
  /** The node settings compaction follows (default: the node's defaults). */
  logTail?: Pick<
    typeof CONFIG_DEFAULTS.consensus,
    'logTailEntries' | 'logTailBytes' | 'compactEveryEntries'
  >;
};

export type GenResult = {
  txs: number;
  records: number;
  blocks: number;
  hospitals: string[];
  doctors: { key: Key; hospital: string; specialization: string }[];
  patients: Key[];
};

const blob = (label: string, size: number): Uint8Array => {
  const out = new Uint8Array(size);
  const seed = sha256(utf8(label));
  for (let i = 0; i < size; i++) out[i] = seed[i % 32]! ^ (i & 0xff);
  return out;
};
const wrappedKey = (label: string) => sha256(utf8(`wrapped ${label}`)).slice(0, 24);

/**
 * Commits `txs` (with their bodies) as the next block, and appends its consensus log entry (term
 * 1, index = height, the block and its bodies) with the hard state committing it, as the node
 * that proposed it would have: a daemon started on the generated store finds the log its
 * applied index points into. Returns the transactions' hashes.
 */
async function commit(store: Store, txs: Uint8Array[], bodies: Map<string, Uint8Array>) {
  const head = store.head();
  try {
    const { hashes, height, blockBytes, kept } = await commitTxs(store, {
      chainId: GEN_CHAIN_ID,
      proposer: genNode.secret,
      txs,
      bodies,
      // No no-op before each block here: the entry index is the height.
      raftIndex: head.height + 1,
      raftTerm: 1,
      durable: false,
    });
    const data = encodeBlockEntry(blockBytes, kept);
    await store.raft.save([{ index: height, term: 1, type: 'block', data }], {
      term: 1,
      vote: genNode.hex,
      commit: height,
    });
    return { hashes, bytes: data.length };
  } catch (err) {
    throw new Error(`gen-chain: ${(err as Error).message}`);
  }
}

/**
 * After each block (entry index = height, term 1): what a node with the default `consensus.*`
 * settings does (packages/node/src/compaction.ts): once `compactEveryEntries` entries lie beyond
 * the tail of `logTailEntries` entries (or the tail passes `logTailBytes`), the store is flushed
 * (durable) and the log dropped up to there, stubs already written by each block's batch.
 */
function logCompactor(store: Store, settings: GenOpts['logTail'] = CONFIG_DEFAULTS.consensus) {
  const { logTailEntries, logTailBytes, compactEveryEntries } = settings;
  const tail: { index: number; bytes: number; hash: Uint8Array }[] = [];
  let tailBytes = 0;
  return async (bytes: number) => {
    const head = store.head();
    tail.push({ index: head.height, bytes, hash: head.hash });
    tailBytes += bytes;
    let target = head.height - logTailEntries;
    let over = tailBytes;
    for (const e of tail) {
      if (over <= logTailBytes) break;
      over -= e.bytes;
      target = Math.max(target, e.index);
    }
    const compacted = store.raft.compactedIndex;
    if (
      target - compacted < compactEveryEntries &&
      !(tailBytes > logTailBytes && target > compacted)
    )
      return;
    const at = tail.find((e) => e.index === target);
    if (!at) return;
    await store.flush();
    await store.raft.compact({
      index: target,
      term: 1,
      membership: { voters: [genNode.hex], learners: [], removed: [] },
      lastBlockHash: at.hash,
      data: encodeSnapshotData(target),
    });
    while (tail.length > 0 && tail[0]!.index <= target) tailBytes -= tail.shift()!.bytes;
  };
}

/** Builds the story on `store` (opened on genGenesis()). */
export async function generateChain(store: Store, o: GenOpts): Promise<GenResult> {
  const rand = seededRandom(o.seed ?? 1);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const nonces = new Map<string, number>();
  let total = 0;
  let records = 0;
  const tx = (k: Key, kind: string, payload: ValueMap): Uint8Array => {
    const nonce = nonces.get(k.hex) ?? 0;
    nonces.set(k.hex, nonce + 1);
    const expires = store.head().time + 3_600_000;
    // What signTx does, without re-deriving the author's public key from its secret per
    // transaction (a third of the signing time): the same bytes, the same signature.
    const body = { chainId: GEN_CHAIN_ID, author: k.key, nonce, kind, payload, expires };
    return encodeTx({ ...body, signature: sign(txSigningBytes(body), k.secret) });
  };
  // Blocks of up to `per` transactions.
  const per = 1000;
  let batch: Uint8Array[] = [];
  let bodies = new Map<string, Uint8Array>();
  let hashes: string[] = [];
  const compactor = o.compact === false ? undefined : logCompactor(store, o.logTail);
  const flush = async () => {
    if (batch.length === 0) return;
    const c = await commit(store, batch, bodies);
    hashes = hashes.concat(c.hashes);
    await compactor?.(c.bytes);
    total += batch.length;
    batch = [];
    bodies = new Map();
    o.progress?.(total, store.head().height);
  };
  const add = async (t: Uint8Array, body?: Uint8Array) => {
    batch.push(t);
    if (body) bodies.set(toHex(sha256(body)), body);
    if (batch.length >= per) await flush();
  };

  const nh = o.hospitals ?? 20;
  const hospitals: { id: string; specs: string[] }[] = [];
  const doctors: GenResult['doctors'] = [];
  for (let i = 0; i < nh; i++) {
    const id = `hospital-${i}`;
    const specs = SPECIALIZATIONS.filter((_, j) => (i + j) % 2 === 0 || j === i % 5);
    hospitals.push({ id, specs });
    await add(
      tx(genAdmin, 'hospital.register', {
        id,
        name: `Hospital ${i}`,
        address: `${i} Main Street`,
        specializations: specs,
        contact: `desk@h${i}.example`,
        nodes: [],
        encryptionKey: sha256(utf8(`enc ${id}`)),
      }),
    );
  }
  await flush();
  for (const h of hospitals) {
    for (const spec of h.specs) {
      for (let d = 0; d < (o.doctorsPerSpecialization ?? 2); d++) {
        const key = genKey(`doctor ${h.id} ${spec} ${d}`);
        doctors.push({ key, hospital: h.id, specialization: spec });
        await add(
          tx(genAdmin, 'doctor.register', {
            doctor: key.key,
            hospital: h.id,
            name: `Dr. ${spec} ${d} of ${h.id}`,
            specialization: spec,
            qualification: 'MD',
            experience: 10,
            contact: `dr${d}@${h.id}.example`,
          }),
        );
      }
    }
  }
  await flush();

  const patients: Key[] = [];
  // Patients in cohorts: sign up, then report, share and get prescriptions and reads.
  const cohort = 2_000;
  for (let start = 0; start < o.patients; start += cohort) {
    const group: Key[] = [];
    for (let i = start; i < Math.min(o.patients, start + cohort); i++) {
      const p = genKey(`patient ${i}`);
      group.push(p);
      patients.push(p);
      const profile = blob(`profile ${i}`, 200);
      await add(
        tx(p, 'patient.register', {
          profileHash: sha256(profile),
          profileSize: profile.length,
          profileKey: wrappedKey(`profile ${i}`),
        }),
        profile,
      );
    }
    await flush();
    const pending: { id: string; hospital: string; spec: string }[] = [];
    for (const p of group) {
      const n = Math.max(1, Math.round(o.reports * (0.5 + rand())));
      for (let r = 0; r < n; r++) {
        const h = pick(hospitals);
        const spec = pick(h.specs);
        const body = blob(`report ${p.hex} ${r}`, 1024);
        const t = tx(p, 'record.submit', {
          hospital: h.id,
          specialization: spec,
          payloadHash: sha256(body),
          payloadSize: body.length,
          patientKey: wrappedKey(`${p.hex} ${r}`),
          hospitalKeys: { [h.id]: wrappedKey(`${p.hex} ${r} ${h.id}`) },
        });
        await add(t, body);
        records++;
        pending.push({ id: toHex(sha256(t)), hospital: h.id, spec });
      }
      if (rand() < 0.3) {
        // A document attached to the patient's last report (wrapped for its hospital too).
        const last = pending[pending.length - 1]!;
        const body = blob(`document ${p.hex}`, 2048);
        await add(
          tx(p, 'record.attach', {
            report: last.id,
            payloadHash: sha256(body),
            payloadSize: body.length,
            patientKey: wrappedKey(`doc ${p.hex}`),
            hospitalKeys: { [last.hospital]: wrappedKey(`doc ${p.hex} ${last.hospital}`) },
          }),
          body,
        );
        records++;
      }
      if (rand() < 0.5) {
        await add(
          tx(p, 'consent.grant', {
            hospital: pick(hospitals).id,
            scope: 'all',
            keys: {},
          }),
        );
      }
    }
    await flush();
    // Doctors prescribe on a third of the pending reports; the node records a read of each.
    for (const rep of pending) {
      if (rand() > 0.33) continue;
      const cands = doctors.filter(
        (d) => d.hospital === rep.hospital && d.specialization === rep.spec,
      );
      const d = pick(cands);
      const body = blob(`rx ${rep.id}`, 300);
      await add(
        tx(genNode, 'access.record', {
          reader: d.key.key,
          target: rep.id,
          purpose: 'TREAT',
          readAt: store.head().time,
        }),
      );
      await add(
        tx(d.key, 'prescription.write', {
          record: rep.id,
          payloadHash: sha256(body),
          payloadSize: body.length,
          patientKey: wrappedKey(`rx ${rep.id} p`),
          hospitalKey: wrappedKey(`rx ${rep.id} h`),
        }),
        body,
      );
    }
    await flush();
  }
  await flush();
  return {
    txs: total,
    records,
    blocks: store.head().height,
    hospitals: hospitals.map((h) => h.id),
    doctors,
    patients,
  };
}

async function main(): Promise<void> {
  const { parseArgs } = await import('node:util');
  const { Store } = await import('@ehr/store');
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      patients: { type: 'string', default: '1000' },
      reports: { type: 'string', default: '10' },
      seed: { type: 'string', default: '1' },
      'no-compact': { type: 'boolean', default: false },
    },
  });
  if (!values.dir) throw new Error('usage: gen-chain.ts --dir D [--patients N] [--reports R]');
  const store = await Store.open(values.dir, genGenesis());
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const r = await generateChain(store, {
    patients: Number(values.patients),
    reports: Number(values.reports),
    seed: Number(values.seed),
    compact: !values['no-compact'],
    progress: (txs, h) => {
      if (h % 50 === 0) {
        const s = (performance.now() - t0) / 1000;
        process.stdout.write(`  ${txs} txs, height ${h}, ${(txs / s).toFixed(0)} tx/s\n`);
      }
    },
  });
  const head = toHex(store.head().hash);
  await store.close();
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpu = (c.user + c.system) / 1e6;
  // CPU seconds as well as wall time: on a shared machine the wall time says more about the
  // neighbours than about the generator.
  console.log(
    `gen-chain: ${r.txs} txs, ${r.records} records, ${r.patients.length} patients, ${r.blocks} blocks in ${s.toFixed(1)} s (${(r.txs / s).toFixed(0)} tx/s; ${cpu.toFixed(1)} CPU s, ${(r.txs / cpu).toFixed(0)} tx per CPU s) -> ${values.dir}, head ${head.slice(0, 16)}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
