/**
 * The node's store: one LevelDB holding blocks (by height and hash), the transaction index with
 * receipts, payload bodies (apart from blocks, so they can be erased), the ledger state, each
 * block's write set (so the state-hash chain can be re-derived), the consensus log and metadata.
 * A block and everything it changes is one synced batch: after a crash the store holds the
 * previous block or the new one, never half of it.
 */

import { join } from 'node:path';
import type { Entry } from '@ehr/consensus';
import {
  type BlockHeader,
  decode,
  decodeBlock,
  EhrError,
  encode,
  encodeHeader,
  expectBytes,
  expectInteger,
  expectMap,
  fromHex,
  toHex,
  utf8,
} from '@ehr/core';
import {
  deriveIndexWrites,
  encodeWriteSet,
  type Genesis,
  genesisBlockHash,
  genesisHash,
  genesisStateHash,
  genesisToJson,
  genesisWrites,
  INDEX_VERSION,
  parseGenesis,
  rebuildIndexWrites,
  type WriteSet,
} from '@ehr/ledger';
import { Bucket, key, readU64, u64 } from './buckets.ts';
import { storeDamaged } from './damage.ts';
import { Db, type Op } from './db.ts';
import { type LogScan, scanWriteAheadLogs } from './leveldb-files.ts';
import {
  lostWritesError,
  MARKER_FILE,
  RaftMarker,
  readMarker,
  resyncAdvice,
} from './raft-marker.ts';
import { type EntryStub, RaftRepo } from './raft-repo.ts';
import { StateRepo } from './state-repo.ts';

export interface Head {
  height: number;
  hash: Uint8Array;
  stateHash: Uint8Array;
  time: number;
  /** Raft index of the last applied consensus entry. */
  applied: number;
}

export interface StoreOptions {
  /** Bound of the state read cache in bytes (default 32 MiB; 0: none). */
  stateCacheBytes?: number;
}

export interface TxReceiptRecord {
  height: number;
  index: number;
  ok: boolean;
  code: string | null;
  message: string | null;
}

export interface CommitInput {
  blockBytes: Uint8Array;
  /** The block's header, as in `blockBytes` (kept apart too, for lists of blocks). */
  header: BlockHeader;
  hash: Uint8Array;
  height: number;
  stateHash: Uint8Array;
  time: number;
  receipts: {
    hash: string;
    index: number;
    ok: boolean;
    code: string | null;
    message: string | null;
  }[];
  writes: WriteSet;
  /** Payload bodies to keep, by hash hex. */
  payloads: Map<string, Uint8Array>;
  /** Payload hashes (hex) whose bodies are erased by this block. */
  erased: string[];
  raftIndex: number;
  /**
   * Term of the consensus entry that carried the block: with it, the block's stub is written in
   * the same batch (what serves the entry from the block store once the log compacted it).
   */
  raftTerm?: number;
  /**
   * Consensus log entries rewritten without bodies this block erases (same index, term and
   * type): an erased body must not outlive its erasure in the log either.
   */
  redactions?: Entry[];
  /**
   * Wait for the disk (default true). A node that keeps its consensus log may pass false: the
   * log is synced before anything is applied, and after a power loss LevelDB keeps a prefix of
   * the writes, so a lost block is re-applied from the log at restart.
   */
  durable?: boolean;
}

export const HEAD = key(Bucket.meta, utf8('head'));
/** Version of the query index in the store (absent: built before indexes existed). */
const INDEX_VERSION_KEY = key(Bucket.meta, utf8('index-version'));
/** Present once every block has its header record (blockHeader bucket). */
export const HEADERS_KEY = key(Bucket.meta, utf8('headers'));
const none = (): undefined => undefined;
export const GENESIS = key(Bucket.meta, utf8('genesis'));
export const blockKey = (h: number) => key(Bucket.blockByHeight, u64(h));
export const headerKey = (h: number) => key(Bucket.blockHeader, u64(h));
export const hashKey = (hash: Uint8Array) => key(Bucket.heightByHash, hash);
export const txKey = (hash: Uint8Array) => key(Bucket.txByHash, hash);
export const payloadKey = (hash: Uint8Array) => key(Bucket.payload, hash);
export const payloadEntryKey = (hash: Uint8Array) => key(Bucket.payloadEntry, hash);
export const writeSetKey = (h: number) => key(Bucket.writeSet, u64(h));

function encodeHead(h: Head): Uint8Array {
  return encode({ ...h });
}

export function decodeHead(b: Uint8Array): Head {
  const m = expectMap(decode(b), 'head');
  return {
    height: expectInteger(m['height'], 'head.height'),
    hash: expectBytes(m['hash'], 'head.hash', 32),
    stateHash: expectBytes(m['stateHash'], 'head.stateHash', 32),
    time: expectInteger(m['time'], 'head.time'),
    applied: expectInteger(m['applied'], 'head.applied'),
  };
}

export class Store {
  readonly db: Db;
  readonly state: StateRepo;
  readonly raft: RaftRepo;
  readonly genesis: Genesis;
  private current: Head;
  private durableHead: Head;
  private marker: RaftMarker | undefined;

  private constructor(db: Db, genesis: Genesis, head: Head, opts: StoreOptions) {
    this.db = db;
    this.state = new StateRepo(db, opts.stateCacheBytes);
    this.raft = new RaftRepo(db);
    this.genesis = genesis;
    this.current = head;
    this.durableHead = head;
  }

  /**
   * Opens (creating from `genesis` when empty) the store in `dir`. A store made from another
   * genesis is refused: it belongs to another network.
   */
  static async open(dir: string, genesis: Genesis, opts: StoreOptions = {}): Promise<Store> {
    // Before LevelDB reads (and then deletes) its write-ahead logs: damage in the middle of one
    // would be skipped without a word.
    const logs = scanWriteAheadLogs(dir);
    const inner = logs.damage.find((d) => !d.atTail);
    if (inner) {
      throw new EhrError(
        'STORE_LOG_DAMAGED',
        `the store at ${dir} has a damaged write-ahead log: ${inner.file} at byte ${inner.offset}: ${inner.what}, with readable records after it (not a write torn by a crash). LevelDB would skip what it cannot read, and this node would forget writes it had acknowledged. ${resyncAdvice(dir)}.`,
        { dir, file: inner.file, offset: inner.offset, what: inner.what },
      );
    }
    const db = await Db.open(dir);
    try {
      const stored = await db.get(GENESIS);
      let head: Head;
      if (!stored) {
        head = {
          height: 0,
          hash: genesisBlockHash(genesis),
          stateHash: genesisStateHash(genesis),
          time: genesis.genesisTime,
          applied: 0,
        };
        const writes = genesisWrites(genesis);
        const index = deriveIndexWrites(writes, none, none);
        await db.batch(
          [
            ...StateRepo.ops([...writes, ...index]),
            { type: 'put', key: INDEX_VERSION_KEY, value: u64(INDEX_VERSION) },
            { type: 'put', key: HEADERS_KEY, value: u64(1) },
            { type: 'put', key: writeSetKey(0), value: encodeWriteSet(writes) },
            { type: 'put', key: GENESIS, value: utf8(genesisToJson(genesis)) },
            { type: 'put', key: HEAD, value: encodeHead(head) },
          ],
          true,
        );
      } else {
        const mine = parseGenesis(new TextDecoder().decode(stored), `${dir} (stored genesis)`);
        if (toHex(genesisHash(mine)) !== toHex(genesisHash(genesis))) {
          throw new EhrError(
            'STORE_GENESIS_MISMATCH',
            `the store at ${dir} belongs to chain "${mine.chainId}" with another genesis; use a fresh data directory for this network`,
            { dir, storedChainId: mine.chainId },
          );
        }
        const h = await db.get(HEAD);
        if (!h)
          throw new EhrError(
            'STORE_CORRUPT',
            `the store at ${dir} has a genesis but no head record (its LevelDB files lost writes). ${resyncAdvice(dir)}.`,
            { dir, height: 0 },
          );
        head = decodeHead(h);
      }
      const store = new Store(db, genesis, head, opts);
      await store.ensureIndex();
      await store.ensureHeaders();
      await store.raft.load();
      await store.checkConsensusLog(dir, logs);
      return store;
    } catch (err) {
      await db.close();
      throw storeDamaged(dir, err, 'opened');
    }
  }

  /**
   * Proves the consensus log lost nothing this node acknowledged: LevelDB's save sequence is not
   * behind the marker's, and the log has no hole. Then (re)writes the marker from LevelDB's
   * position and attaches it, so every later save is recorded there too.
   */
  private async checkConsensusLog(dir: string, logs: LogScan): Promise<void> {
    const stored = this.raft.position;
    const evidence = () => {
      const torn = logs.damage.map((d) => `${d.file} at byte ${d.offset}: ${d.what}`);
      if (torn.length > 0) return `LevelDB's write-ahead log was damaged: ${torn.join('; ')}.`;
      if (logs.files.length === 0)
        return `No write-ahead log (*.log) was found in ${dir}: it was deleted, or its writes were lost.`;
      return `Its write-ahead log (${logs.files.join(', ')}) was truncated or replaced, or a file was restored from an older copy.`;
    };
    const m = readMarker(dir);
    if (m.state === 'damaged') {
      throw new EhrError(
        'STORE_MARKER_DAMAGED',
        `the store at ${dir} cannot prove it kept every consensus write it acknowledged: ${m.file} does not pass its checksum. ${resyncAdvice(dir)}.`,
        { dir, file: m.file },
      );
    }
    if (m.state === 'absent' && stored.seq > 0) {
      throw new EhrError(
        'STORE_MARKER_MISSING',
        `the store at ${dir} cannot prove it kept every consensus write it acknowledged: ${join(dir, MARKER_FILE)} is missing although LevelDB records ${stored.seq} consensus saves. ${resyncAdvice(dir)}.`,
        { dir, file: join(dir, MARKER_FILE) },
      );
    }
    if (m.state === 'ok') {
      const p = m.position;
      // LevelDB may be one save ahead (a crash between its batch and the marker write), or more
      // after a power loss (the marker is not fsynced per save); never behind.
      const same =
        p.lastIndex === stored.lastIndex &&
        p.lastTerm === stored.lastTerm &&
        p.term === stored.term &&
        p.vote === stored.vote;
      if (stored.seq < p.seq || (stored.seq === p.seq && !same)) {
        throw lostWritesError(dir, stored, p, evidence());
      }
    }
    const hole = await this.raft.holes();
    if (hole !== undefined) {
      throw new EhrError(
        'STORE_LOST_WRITES',
        `the store at ${dir} lost consensus writes: its log runs from index ${this.raft.firstIndex} to ${this.raft.lastIndex} but entry ${hole} is missing. ${evidence()} ${resyncAdvice(dir)}.`,
        { dir, missing: hole },
      );
    }
    this.marker = RaftMarker.create(dir, stored);
    this.raft.attachMarker(this.marker);
  }

  head(): Head {
    return this.current;
  }

  /** The version of the query index this store holds (undefined: none, a store made before). */
  async indexVersion(): Promise<number | undefined> {
    const v = await this.db.get(INDEX_VERSION_KEY);
    return v === undefined ? undefined : readU64(v);
  }

  /**
   * Builds the query index from the state when it is missing (a store written before it existed)
   * or of another version: clears it, writes it in batches, and only then records its version,
   * so a crash midway starts the rebuild over. Returns the index keys written, or null if the
   * index was current.
   */
  async ensureIndex(): Promise<number | null> {
    if ((await this.indexVersion()) === INDEX_VERSION) return null;
    const bucket = new Uint8Array([Bucket.queryIndex]);
    for (;;) {
      const del: Op[] = [];
      for await (const [k] of this.db.range(bucket, { limit: 10_000, values: false })) {
        del.push({ type: 'del', key: k });
      }
      if (del.length === 0) break;
      await this.db.batch(del, false);
    }
    let n = 0;
    for await (const writes of rebuildIndexWrites(this.state)) {
      await this.db.batch(StateRepo.ops(writes), false);
      n += writes.length;
    }
    await this.db.batch([{ type: 'put', key: INDEX_VERSION_KEY, value: u64(INDEX_VERSION) }], true);
    return n;
  }

  /**
   * Writes the header record of every block that has none (a store written before they were
   * kept), streaming the blocks in batches; records that it is done only at the end, so a crash
   * midway starts over. A block that does not decode gets none: lists read it from the block,
   * which refuses to serve it. Returns the records written, or null if there was nothing to do.
   */
  async ensureHeaders(): Promise<number | null> {
    if ((await this.db.get(HEADERS_KEY)) !== undefined) return null;
    let n = 0;
    let ops: Op[] = [];
    for await (const [k, v] of this.db.range(new Uint8Array([Bucket.blockByHeight]))) {
      let header: BlockHeader;
      try {
        header = decodeBlock(v).header;
      } catch {
        continue;
      }
      ops.push({ type: 'put', key: headerKey(readU64(k, 1)), value: encodeHeader(header) });
      if (ops.length >= 256) {
        await this.db.batch(ops, false);
        n += ops.length;
        ops = [];
      }
    }
    ops.push({ type: 'put', key: HEADERS_KEY, value: u64(1) });
    await this.db.batch(ops, true);
    return n + ops.length - 1;
  }

  async commitBlock(c: CommitInput): Promise<void> {
    if (c.height !== this.current.height + 1) {
      throw new EhrError(
        'STORE_OUT_OF_ORDER',
        `block ${c.height} does not follow the stored head ${this.current.height}`,
        { height: c.height, head: this.current.height },
      );
    }
    const head: Head = {
      height: c.height,
      hash: c.hash,
      stateHash: c.stateHash,
      time: c.time,
      applied: Math.max(c.raftIndex, this.current.applied),
    };
    if (c.header.height !== c.height) {
      throw new EhrError(
        'STORE_OUT_OF_ORDER',
        `block ${c.height} was given the header of block ${c.header.height}`,
        { height: c.height, header: c.header.height },
      );
    }
    const ops: Op[] = [
      { type: 'put', key: blockKey(c.height), value: c.blockBytes },
      {
        type: 'put',
        key: headerKey(c.height),
        value: encodeHeader(c.header),
      },
      { type: 'put', key: hashKey(c.hash), value: u64(c.height) },
    ];
    for (const r of c.receipts) {
      const rec: TxReceiptRecord = {
        height: c.height,
        index: r.index,
        ok: r.ok,
        code: r.code,
        message: r.message,
      };
      ops.push({ type: 'put', key: txKey(fromHex(r.hash)), value: encode({ ...rec }) });
    }
    for (const [h, body] of c.payloads) {
      ops.push({ type: 'put', key: payloadKey(fromHex(h)), value: body });
      ops.push({ type: 'put', key: payloadEntryKey(fromHex(h)), value: u64(c.raftIndex) });
    }
    if (c.raftTerm !== undefined) {
      ops.push(
        RaftRepo.stubOp({
          index: c.raftIndex,
          term: c.raftTerm,
          type: 'block',
          height: c.height,
          payloads: [...c.payloads.keys()].map(fromHex),
        }),
      );
    }
    ops.push(...RaftRepo.rewriteOps(c.redactions ?? []));
    for (const h of c.erased) ops.push({ type: 'del', key: payloadKey(fromHex(h)) });
    // The query indexes the writes change, in the same batch: state and index never disagree.
    const stateOps = StateRepo.ops([...c.writes, ...this.state.indexWrites(c.writes)]);
    ops.push(...stateOps);
    ops.push({ type: 'put', key: writeSetKey(c.height), value: encodeWriteSet(c.writes) });
    ops.push({ type: 'put', key: HEAD, value: encodeHead(head) });
    await this.state.committing(stateOps, () => this.db.batch(ops, c.durable ?? true));
    this.current = head;
  }

  /**
   * Records that a non-block consensus entry (no-op, configuration) was applied, with its stub
   * when given (term, type and a config change's data: what serves it once compacted).
   */
  async setApplied(raftIndex: number, stub?: Omit<EntryStub, 'index'>): Promise<void> {
    if (raftIndex <= this.current.applied) return;
    const head = { ...this.current, applied: raftIndex };
    const ops: Op[] = [{ type: 'put', key: HEAD, value: encodeHead(head) }];
    if (stub) ops.push(RaftRepo.stubOp({ ...stub, index: raftIndex }));
    // Not synced, as blocks are not (CommitInput.durable): the synced log replays the entry
    // after a power loss, and is compacted only below what a flush made durable. A synced
    // head here could outlive the unsynced block before it (LevelDB syncs only the write-ahead
    // log file the write lands in).
    await this.db.batch(ops, false);
    this.current = head;
  }

  /**
   * Makes every write made before the call durable, whatever LevelDB's write-ahead log went
   * through: a write with `sync` only flushes the log file it lands in, and LevelDB switches
   * log files without syncing the old one. This flushes the memtable into a table file (which
   * LevelDB syncs, with its manifest) by compacting an empty key range past every bucket.
   * Returns the head as it stood before the call: durable from then on.
   */
  async flush(): Promise<Head> {
    const head = this.current;
    await this.db.flush();
    this.durableHead = head;
    return head;
  }

  /** The last head `flush` made durable (at open: the head LevelDB recovered). */
  durable(): Head {
    return this.durableHead;
  }

  async blockBytes(height: number): Promise<Uint8Array | undefined> {
    return this.db.get(blockKey(height));
  }

  /** The block's header as encoded (encodeHeader: its SHA-256 is the block hash). */
  async headerBytes(height: number): Promise<Uint8Array | undefined> {
    return this.db.get(headerKey(height));
  }

  async block(height: number) {
    const b = await this.blockBytes(height);
    return b ? decodeBlock(b) : undefined;
  }

  async heightOf(hash: Uint8Array): Promise<number | undefined> {
    const v = await this.db.get(hashKey(hash));
    return v ? readU64(v) : undefined;
  }

  async receipt(txHash: Uint8Array): Promise<TxReceiptRecord | undefined> {
    const v = await this.db.get(txKey(txHash));
    if (!v) return undefined;
    const m = expectMap(decode(v), 'receipt');
    return {
      height: m['height'] as number,
      index: m['index'] as number,
      ok: m['ok'] as boolean,
      code: (m['code'] as string | null) ?? null,
      message: (m['message'] as string | null) ?? null,
    };
  }

  /** The raft index of the entry that carried a payload's body (kept after erasure). */
  async payloadEntryIndex(hashHex: string): Promise<number | undefined> {
    const v = await this.db.get(payloadEntryKey(fromHex(hashHex)));
    return v === undefined ? undefined : readU64(v);
  }

  async payload(hashHex: string): Promise<Uint8Array | undefined> {
    return this.db.get(payloadKey(fromHex(hashHex)));
  }

  async writeSetBytes(height: number): Promise<Uint8Array | undefined> {
    return this.db.get(writeSetKey(height));
  }

  async close(): Promise<void> {
    this.marker?.close();
    await this.db.close();
  }
}
