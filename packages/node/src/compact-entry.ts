/**
 * Compact block entries on the consensus wire. A block entry carries every transaction of its
 * block and every body beside it; followers mostly hold them already, from gossip. The leader
 * sends each transaction and body that went out by gossip as its SHA-256 instead, and a follower
 * fills them in from its mempool. The entry is rebuilt byte for byte (canonical encoding) and
 * checked against the whole entry's SHA-256, which the compact form carries: the engine, the log
 * and the block store only ever see whole entries. What a follower lacks it fetches from the
 * leader (consensus-inbound.ts): consensus never stalls on a missing body.
 */
import type { Message } from '@ehr/consensus';
import {
  type Block,
  decode,
  EncodingError,
  encode,
  encodeBlock,
  equalBytes,
  expectArray,
  expectBytes,
  expectKeys,
  expectMap,
  headerFromValue,
  SIGNATURE_LENGTH,
  sha256,
  toHex,
  txHash,
  type Value,
  type ValueMap,
} from '@ehr/core';
import { decodeBlockEntryParts, encodeBlockEntry } from './block-entry.ts';

/** First byte of a compact entry (a whole entry starts with CODEC_VERSION). */
export const COMPACT_ENTRY = 0xec;

/** Larger entries are sent whole (see compactEntry). */
export const MAX_COMPACTED_ENTRY_BYTES = 1024 * 1024;

/** A reference in place of bytes the receiver is expected to hold. */
type Ref = { h: Uint8Array };

const ref = (hash: Uint8Array): Ref => ({ h: hash });

/**
 * The compact form of a whole block entry: transactions and bodies for which `known` (hash hex)
 * says the followers hold them become references. Undefined when nothing would be left out.
 */
export function compactEntry(
  data: Uint8Array,
  known: (hashHex: string) => boolean,
): Uint8Array | undefined {
  // An entry this large carries a body too large to gossip: it travels whole anyway, and
  // decoding, hashing and re-encoding megabytes here and on every follower would cost more
  // than the few small transactions beside it save.
  if (data.length > MAX_COMPACTED_ENTRY_BYTES) return undefined;
  const { block, bodies } = decodeBlockEntryParts(data);
  let refs = 0;
  const txs: Value[] = block.txs.map((tx) => {
    const h = txHash(tx);
    if (!known(toHex(h))) return tx;
    refs++;
    return ref(h);
  });
  const seen = new Set<string>();
  const payloads: Value[] = bodies.map((body) => {
    const h = sha256(body);
    const hex = toHex(h);
    // A body listed twice: the second copy travels whole (fill looks bodies up by hash).
    if (seen.has(hex) || !known(hex)) return body;
    seen.add(hex);
    refs++;
    return ref(h);
  });
  if (refs === 0) return undefined;
  const out = encode({
    entry: sha256(data),
    header: { ...block.header },
    signature: block.signature,
    txs,
    payloads,
  });
  const bytes = new Uint8Array(out.length + 1);
  bytes[0] = COMPACT_ENTRY;
  bytes.set(out, 1);
  return bytes;
}

export const isCompactEntry = (data: Uint8Array): boolean => data[0] === COMPACT_ENTRY;

/** What a follower holds: transactions by hash, and the bodies that came with each. */
export interface EntrySource {
  tx(hashHex: string): { bytes: Uint8Array; payloads: ReadonlyMap<string, Uint8Array> } | undefined;
}

export type Filled =
  | { ok: true; data: Uint8Array }
  /** `entry` is the whole entry's SHA-256: what a fetched copy must hash to. */
  | { ok: false; entry: Uint8Array; missing: number };

/** The whole entry of a compact one, from what `source` holds (or what is missing). */
export function fillEntry(compact: Uint8Array, source: EntrySource): Filled {
  if (compact[0] !== COMPACT_ENTRY) throw new EncodingError('not a compact block entry');
  const m = expectMap(decode(compact.subarray(1)), 'compact entry');
  expectKeys(m, ['entry', 'header', 'payloads', 'signature', 'txs'], 'compact entry');
  const entry = expectBytes(m['entry'], 'compact entry.entry', 32);
  const header = headerFromValue(m['header'], 'compact entry.header');
  const signature = expectBytes(m['signature'], 'compact entry.signature', SIGNATURE_LENGTH);
  let missing = 0;
  const bodies = new Map<string, Uint8Array>();
  const txs = expectArray(m['txs'], 'compact entry.txs').map((v, i) => {
    const h = refOrBytes(v, `compact entry.txs[${i}]`);
    if (h instanceof Uint8Array) return h;
    const held = source.tx(toHex(h.h));
    if (!held) {
      missing++;
      return new Uint8Array(0);
    }
    for (const [k, b] of held.payloads) bodies.set(k, b);
    return held.bytes;
  });
  const payloads = expectArray(m['payloads'], 'compact entry.payloads').map((v, i) => {
    const h = refOrBytes(v, `compact entry.payloads[${i}]`);
    if (h instanceof Uint8Array) return h;
    const body = bodies.get(toHex(h.h)) ?? findBody(source, toHex(h.h), txs);
    if (!body) {
      missing++;
      return new Uint8Array(0);
    }
    return body;
  });
  if (missing > 0) return { ok: false, entry, missing };
  const block: Block = { header, signature, txs };
  const data = encodeBlockEntry(encodeBlock(block), payloads);
  // Held bytes that hash right but rebuild another entry (never expected): fetch it whole.
  if (!equalBytes(sha256(data), entry)) return { ok: false, entry, missing: 0 };
  return { ok: true, data };
}

/** A body a referenced transaction did not bring, searched among the entry's other ones. */
function findBody(source: EntrySource, hex: string, txs: Uint8Array[]): Uint8Array | undefined {
  for (const tx of txs) {
    if (tx.length === 0) continue;
    const b = source.tx(toHex(txHash(tx)))?.payloads.get(hex);
    if (b) return b;
  }
  return undefined;
}

function refOrBytes(v: Value | undefined, path: string): Uint8Array | Ref {
  if (v instanceof Uint8Array) return v;
  const m = expectMap(v ?? null, path) as ValueMap;
  expectKeys(m, ['h'], path);
  return ref(expectBytes(m['h'], `${path}.h`, 32));
}

/**
 * Hashes that went out by gossip (transactions and their bodies): what followers most likely
 * hold. Bounded: the oldest are forgotten first (a forgotten one travels whole, nothing worse).
 */
export class GossipedHashes {
  private readonly set = new Set<string>();
  private readonly max: number;
  constructor(max = 65_536) {
    this.max = max;
  }

  add(hashHex: string): void {
    if (this.set.has(hashHex)) return;
    this.set.add(hashHex);
    if (this.set.size > this.max) {
      const oldest = this.set.values().next();
      if (!oldest.done) this.set.delete(oldest.value);
    }
  }

  has(hashHex: string): boolean {
    return this.set.has(hashHex);
  }

  get size(): number {
    return this.set.size;
  }
}

/**
 * The leader's side: block entries of outgoing appends in compact form. An entry goes to every
 * follower, and again on resends: its compact form is kept per entry (by the identity of its
 * bytes, which the engine keeps for the entry's life; a redacted entry is new bytes).
 *
 * Only entries not yet committed go compact. An entry at or below the append's commit index was
 * committed before it was sent to this follower: the follower is behind a quorum (restarted,
 * partitioned, slow), and what it misses is exactly what its mempool cannot hold: a committed
 * transaction leaves every mempool that applies it, and a restarted node's is empty. Sent
 * compact, each such entry costs the follower a fetch round trip to the leader, one after
 * another (a 64-entry append: 64 round trips), while the leader's later messages wait behind
 * them (consensus-inbound.ts); a voter catching up 400 entries went silent long enough for the
 * leader to lose its quorum (test/catch-up-quorum.test.ts). Whole, it is one message, as with
 * compact entries off. An append's commit is min(leader's commit, its last entry), so an entry
 * is committed exactly when its index is at most the append's commit.
 */
export class EntryCompactor {
  private readonly forms = new WeakMap<Uint8Array, Uint8Array | null>();
  private readonly known: (hashHex: string) => boolean;
  constructor(known: (hashHex: string) => boolean) {
    this.known = known;
  }

  outgoing(m: Message): Message {
    if (m.type !== 'append' || m.entries.length === 0) return m;
    let changed = false;
    const entries = m.entries.map((e) => {
      if (e.type !== 'block' || e.index <= m.commit) return e;
      let form = this.forms.get(e.data);
      if (form === undefined) {
        form = compactEntry(e.data, this.known) ?? null;
        this.forms.set(e.data, form);
      }
      if (form === null) return e;
      changed = true;
      return { ...e, data: form };
    });
    return changed ? { ...m, entries } : m;
  }
}
