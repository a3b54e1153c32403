/**
 * The full integrity walk, streamed: re-derives every block hash and link, Merkle root and
 * proposer signature (block-check.ts), the proposer's membership, every transaction signature
 * and receipt, each block's header record, the state-hash chain from the stored write sets,
 * every payload body's hash, and checks that the live state is exactly the replay of the write
 * sets.
 *
 * It reads one LevelDB snapshot (a consistent store while the node keeps committing) without
 * filling LevelDB's block cache, and holds in memory one block at a time, the membership (to
 * check proposers) and, for the state check, the replay of one partition of the state keys at a
 * time (at most `maxKeysPerPass` keys; the write sets are read once per partition). It yields its
 * progress (one object, updated in place) after every block, every page of state keys and every page of payloads, so a driver
 * decides the pace: the offline `ehr node verify` as fast as it can, the node's scrubber at a
 * configured rate, yielding the event loop between slices.
 *
 * The first problem ends the walk with STORE_CORRUPT naming its height, what is wrong and the
 * store key; a LevelDB read error becomes STORE_DAMAGED; both name the damaged file when a
 * table or log checksum finds one.
 */
import {
  decode,
  decodeTx,
  EhrError,
  encode,
  equalBytes,
  expectMap,
  isEhrError,
  sha256,
  taggedHash,
  toHex,
  type Value,
  verifyTxSignature,
  ZERO_HASH,
} from '@ehr/core';
import { type Genesis, genesisBlockHash, genesisStateHash, STATE_HASH_TAG } from '@ehr/ledger';
import { checkStoredBlock } from './block-check.ts';
import { Bucket, readU64 } from './buckets.ts';
import { damagedFiles, storeDamaged } from './damage.ts';
import type { Db, ReadOpts } from './db.ts';
import { resyncAdvice } from './raft-marker.ts';
import {
  blockKey,
  decodeHead,
  HEAD,
  HEADERS_KEY,
  hashKey,
  headerKey,
  txKey,
  writeSetKey,
} from './store.ts';

export interface VerifyReport {
  height: number;
  blocks: number;
  txs: number;
  payloads: number;
  stateKeys: number;
  /** Bytes read (blocks, receipts, write sets, state and payloads). */
  bytes: number;
}

export interface WalkProgress extends VerifyReport {
  phase: 'blocks' | 'state' | 'payloads';
  /** The head height of the snapshot walked. */
  target: number;
  /** State check: the partition being replayed (1-based) and how many there are. */
  pass: number;
  passes: number;
}

export interface WalkOptions {
  /** State keys one partition of the state check holds in memory at most (default 100,000). */
  maxKeysPerPass?: number;
}

const MEMBER_PREFIX = 'member/';
const PAGE = 256;
const text = new TextDecoder();

function corrupt(height: number, what: string, key: string): EhrError {
  return new EhrError('STORE_CORRUPT', `store is corrupt at height ${height}: ${what}`, {
    height,
    what,
    key,
  });
}

/**
 * Names the data directory, the damaged file when a checksum finds it, and the recovery in
 * every refusal; an error LevelDB raised while reading becomes STORE_DAMAGED.
 */
export function explainDamage(dir: string, err: unknown): EhrError {
  if (!isEhrError(err, 'STORE_CORRUPT')) return storeDamaged(dir, err, 'verified');
  const files = damagedFiles(dir);
  const data = err.data as { key?: string };
  return new EhrError(
    'STORE_CORRUPT',
    `the store at ${dir}: ${err.message}${data.key ? ` (store key ${data.key})` : ''}${files ? ` (${files})` : ''}. ${resyncAdvice(dir)}.`,
    { ...(err.data as object), dir, ...(files ? { files } : {}) },
  );
}

function decodeWriteSet(bytes: Uint8Array, height: number): [string, Value | null][] {
  let v: Value;
  try {
    v = decode(bytes);
  } catch (err) {
    throw corrupt(
      height,
      `write set does not decode (${(err as Error).message})`,
      `writeSet/${height}`,
    );
  }
  if (!Array.isArray(v)) throw corrupt(height, 'write set is not a list', `writeSet/${height}`);
  return v.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
      throw corrupt(height, 'write set entry is not a [key, value] pair', `writeSet/${height}`);
    }
    return [pair[0], pair[1] as Value | null];
  });
}

/** FNV-1a of a key string: which partition of the state check it belongs to. */
function partOf(k: string, parts: number): number {
  if (parts === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < k.length; i++) {
    h ^= k.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % parts;
}

/** Walks the whole store; see the module comment. Returns the report when everything holds. */
export async function* walkStore(
  db: Db,
  genesis: Genesis,
  opts: WalkOptions = {},
): AsyncGenerator<WalkProgress, VerifyReport, void> {
  const maxKeys = opts.maxKeysPerPass ?? 100_000;
  if (!Number.isInteger(maxKeys) || maxKeys < 1)
    throw new EhrError(
      'STORE_WALK_OPTIONS',
      `maxKeysPerPass must be a positive integer, got ${maxKeys}`,
    );
  const snapshot = db.snapshot();
  try {
    return yield* walk(db, genesis, { snapshot, fillCache: false }, maxKeys);
  } catch (err) {
    throw explainDamage(db.dir, err);
  } finally {
    await snapshot.close();
  }
}

/**
 * A read that says, when LevelDB fails it (a checksum, a missing table), at which height and
 * store key the walk was: the damaged file alone does not tell an operator what was lost.
 */
async function read(
  db: Db,
  key: Uint8Array,
  ro: ReadOpts,
  height: number,
  name: string,
): Promise<Uint8Array | undefined> {
  try {
    return await db.get(key, ro);
  } catch (err) {
    const e = storeDamaged(db.dir, err, `verified (reading ${name} at height ${height})`);
    throw new EhrError(e.code, e.message, { ...(e.data as object), height, key: name });
  }
}

async function* walk(
  db: Db,
  genesis: Genesis,
  ro: ReadOpts,
  maxKeys: number,
): AsyncGenerator<WalkProgress, VerifyReport, void> {
  const headBytes = await read(db, HEAD, ro, 0, 'meta/head');
  if (!headBytes) throw corrupt(0, 'the head record is missing', 'meta/head');
  const head = decodeHead(headBytes);
  const target = head.height;
  const r: WalkProgress = {
    phase: 'blocks',
    height: 0,
    target,
    blocks: 0,
    txs: 0,
    payloads: 0,
    stateKeys: 0,
    bytes: 0,
    pass: 0,
    passes: 0,
  };
  const writeSet = async (h: number): Promise<Uint8Array> => {
    const ws = await read(db, writeSetKey(h), ro, h, `writeSet/${h}`);
    if (!ws)
      throw corrupt(
        h,
        h === 0 ? 'genesis write set is missing' : 'write set is missing',
        `writeSet/${h}`,
      );
    r.bytes += ws.length;
    return ws;
  };

  // 1. Blocks, receipts and the state-hash chain; only the membership is replayed here.
  const members = new Map<string, Value>();
  const applyMembers = (ws: [string, Value | null][]) => {
    for (const [k, v] of ws) {
      if (!k.startsWith(MEMBER_PREFIX)) continue;
      if (v === null) members.delete(k);
      else members.set(k, v);
    }
  };
  const ws0 = await writeSet(0);
  let stateHash = taggedHash(STATE_HASH_TAG, ZERO_HASH, sha256(ws0));
  if (!equalBytes(stateHash, genesisStateHash(genesis))) {
    throw corrupt(0, 'genesis write set does not match the genesis document', 'writeSet/0');
  }
  applyMembers(decodeWriteSet(ws0, 0));
  let prevHash = genesisBlockHash(genesis);
  // Once every block has its header record (Store.ensureHeaders), a missing one is lost data.
  const headersKept = (await read(db, HEADERS_KEY, ro, 0, 'meta/headers')) !== undefined;
  for (let h = 1; h <= target; h++) {
    const at = `blockByHeight/${h}`;
    const bytes = await read(db, blockKey(h), ro, h, at);
    if (!bytes) throw corrupt(h, 'block is missing', at);
    r.bytes += bytes.length;
    const checked = checkStoredBlock(bytes, { height: h, chainId: genesis.chainId, prevHash });
    if (!checked.ok) throw corrupt(h, checked.what, at);
    const { block, hash, txHashes } = checked;
    const hd = block.header;
    const indexed = await read(db, hashKey(hash), ro, h, `heightByHash/${toHex(hash)}`);
    if (indexed?.length !== 8 || readU64(indexed) !== h)
      throw corrupt(h, 'block-hash index does not point here', `heightByHash/${toHex(hash)}`);
    // The header record lists of blocks serve: the block's own header (its SHA-256 the hash).
    const hk = `blockHeader/${h}`;
    const header = await read(db, headerKey(h), ro, h, hk);
    if (header) r.bytes += header.length;
    if (header ? !equalBytes(sha256(header), hash) : headersKept)
      throw corrupt(
        h,
        header ? "header record is not the block's header" : 'header record is missing',
        hk,
      );
    const member = members.get(`${MEMBER_PREFIX}${toHex(hd.proposer)}`);
    if (!member || (member as { role?: string }).role !== 'validator') {
      throw corrupt(h, `proposer ${toHex(hd.proposer).slice(0, 12)}… was not a validator`, at);
    }
    for (let i = 0; i < block.txs.length; i++) {
      const txBytes = block.txs[i]!;
      let ok = false;
      try {
        ok = verifyTxSignature(decodeTx(txBytes));
      } catch {
        ok = false;
      }
      if (!ok) throw corrupt(h, `transaction ${i} does not decode or verify`, at);
      const th = txHashes[i]!;
      const rec = await read(db, txKey(th), ro, h, `txByHash/${toHex(th)}`);
      let good = false;
      if (rec) {
        r.bytes += rec.length;
        try {
          const m = expectMap(decode(rec), 'receipt');
          good = m['height'] === h && m['index'] === i;
        } catch {
          good = false;
        }
      }
      if (!good)
        throw corrupt(
          h,
          `receipt of transaction ${i} is missing or wrong`,
          `txByHash/${toHex(th)}`,
        );
      r.txs++;
      // A block of a thousand transactions is too much for one step: hand back every 32.
      if (i % 32 === 31) yield r;
    }
    const ws = await writeSet(h);
    stateHash = taggedHash(STATE_HASH_TAG, stateHash, sha256(ws));
    if (!equalBytes(stateHash, hd.stateHash)) {
      throw corrupt(
        h,
        'state hash chain does not match the header (write set altered)',
        `writeSet/${h}`,
      );
    }
    applyMembers(decodeWriteSet(ws, h));
    prevHash = hash;
    r.height = h;
    r.blocks = h;
    yield r;
  }
  if (!equalBytes(head.hash, prevHash) || !equalBytes(head.stateHash, stateHash)) {
    throw corrupt(target, 'head record does not match the last block', 'meta/head');
  }

  // 2. The live state is exactly the replay of the (now proven) write sets, one partition of
  // the keys at a time so the replay never holds more than about maxKeys of them.
  r.phase = 'state';
  let live = 0;
  for await (const _ of db.range(new Uint8Array([Bucket.state]), { ...ro, values: false })) live++;
  const passes = Math.max(1, Math.ceil(live / maxKeys));
  r.passes = passes;
  for (let p = 0; p < passes; p++) {
    r.pass = p + 1;
    const replay = new Map<string, Value>();
    for (let h = 0; h <= target; h++) {
      for (const [k, v] of decodeWriteSet(await writeSet(h), h)) {
        if (partOf(k, passes) !== p) continue;
        if (v === null) replay.delete(k);
        else replay.set(k, v);
      }
      if (h % 32 === 0) yield r;
    }
    let n = 0;
    for await (const [sk, v] of db.range(new Uint8Array([Bucket.state]), ro)) {
      const k = text.decode(sk.subarray(1));
      if (partOf(k, passes) !== p) continue;
      r.bytes += v.length;
      const want = replay.get(k);
      if (want === undefined)
        throw corrupt(target, `state key ${k} is not explained by any block`, `state/${k}`);
      if (!equalBytes(encode(want), v))
        throw corrupt(target, `state value of ${k} was altered`, `state/${k}`);
      replay.delete(k);
      r.stateKeys++;
      if (++n % PAGE === 0) yield r;
    }
    const missing = replay.keys().next();
    if (!missing.done)
      throw corrupt(
        target,
        `state entries are missing (${missing.value})`,
        `state/${missing.value}`,
      );
  }

  // 3. Every payload body matches the hash it is stored under.
  r.phase = 'payloads';
  for await (const [k, v] of db.range(new Uint8Array([Bucket.payload]), ro)) {
    r.bytes += v.length;
    if (!equalBytes(sha256(v), k.subarray(1))) {
      const hex = toHex(k.subarray(1));
      const h = await firstReference(db, ro, target, `payload/${hex}`);
      throw corrupt(
        h ?? target,
        `payload ${hex.slice(0, 12)}… does not match its hash`,
        `payload/${hex}`,
      );
    }
    if (++r.payloads % PAGE === 0) yield r;
  }
  const { phase: _p, target: _t, pass: _a, passes: _b, ...report } = r;
  return report;
}

/** The height whose write set first names `key` (only looked up to name a damaged payload). */
async function firstReference(
  db: Db,
  ro: ReadOpts,
  target: number,
  key: string,
): Promise<number | undefined> {
  for (let h = 0; h <= target; h++) {
    const ws = await db.get(writeSetKey(h), ro);
    if (!ws) continue;
    try {
      if (decodeWriteSet(ws, h).some(([k]) => k === key)) return h;
    } catch {
      // A bad write set was named by the walk before; here it only hides a reference.
    }
  }
  return undefined;
}
