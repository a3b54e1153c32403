/**
 * A deterministic, seeded network simulator for the Raft engine: N nodes, messages dropped,
 * duplicated, delayed and reordered, partitions (symmetric and one-way), crash and restart from
 * persisted state only, membership changes - and after every step the Raft safety invariants.
 *
 * Compaction and snapshots as the node does them: a node keeps `tail` entries behind its applied
 * index and compacts every `compactEvery` entries beyond; its applied entries stay in its block
 * store (`stored.blocks`). A follower sent a snapshot persists it, drops its whole log, and
 * installs it over several steps by taking the applied entries up to it from other members'
 * block stores (each checked against what was committed), with its loop held meanwhile (the
 * engine still steps messages; nothing is sent, applied or advanced until the install is done);
 * a crash mid-install resumes it at restart.
 */
import { fromUtf8, seededRandom, sha256, toHex, utf8 } from '@ehr/core';
import { decodeMessage, encodeMessage } from '../src/codec.ts';
import { RaftNode } from '../src/raft.ts';
import {
  type BlockVerifier,
  type Entry,
  type HardState,
  MAX_LOG_POSITION,
  type Membership,
  type Message,
  type Ready,
  type Snapshot,
} from '../src/types.ts';

/**
 * Values a rogue member puts in its messages: huge terms the engine must accept and survive (a
 * term is only a number: a node that really campaigned that often would send the same), and
 * terms or positions beyond the accepted range, which decoding must refuse.
 */
const ACCEPTED_TERMS = [1e12, 2 ** 47, 2 ** 40 + 7];
const REFUSED_VALUES = [MAX_LOG_POSITION + 1, 2 ** 52, Number.MAX_SAFE_INTEGER];
const POSITION_FIELDS = ['term', 'index', 'logTerm', 'commit', 'hintIndex', 'hintTerm'] as const;

/** The seeded PRNG of @ehr/core (mulberry32). */
export const mulberry32 = seededRandom;

export const GENESIS_HASH = sha256(utf8('sim genesis'));

/** Test blocks: JSON naming term, proposer and previous hash; hash = SHA-256 of the bytes. */
export function makeBlock(
  term: number,
  proposer: string,
  prevHash: Uint8Array,
  n: number,
): Uint8Array {
  return utf8(JSON.stringify({ term, proposer, prev: toHex(prevHash), n }));
}

export const testVerifier: BlockVerifier = {
  check(data, ctx) {
    const b = JSON.parse(fromUtf8(data)) as { term: number; proposer: string; prev: string };
    if (b.term !== ctx.term) return `block names term ${b.term}, entry is term ${ctx.term}`;
    if (ctx.leader !== null && b.proposer !== ctx.leader)
      return `block by ${b.proposer}, leader is ${ctx.leader}`;
    if (b.prev !== toHex(ctx.prevHash)) return 'block does not link to the previous block';
    return undefined;
  },
  hashOf: (data) => sha256(data),
};

interface Stored {
  hardState: HardState | undefined;
  entries: Entry[];
  snapshot: Snapshot | undefined;
  applied: number;
  /** The block store: every entry this node applied, by index (kept across crashes). */
  blocks: Map<number, Entry>;
}

interface SimNode {
  id: string;
  raft: RaftNode;
  stored: Stored;
  up: boolean;
  persistedCommit: number;
  lastCommit: number;
  /**
   * Installing a snapshot up to `target` from members' block stores; `rd`: the Ready whose
   * snapshot started it, finished (persist, send, apply, advance) once the install is done.
   */
  installing: { target: number; rd: Ready | undefined } | undefined;
}

export interface Faults {
  drop: number;
  duplicate: number;
  maxDelay: number;
}

export class Violation extends Error {}

const identities = new WeakMap<Entry, string>();
/** term:type:sha256(data), cached per entry object (entries are immutable once made). */
export function identityOf(e: Entry): string {
  let id = identities.get(e);
  if (!id) {
    id = `${e.term}:${e.type}:${toHex(sha256(e.data))}`;
    identities.set(e, id);
  }
  return id;
}

export class Sim {
  readonly rng: () => number;
  readonly nodes = new Map<string, SimNode>();
  private queue: { at: number; bytes: Uint8Array; from: string; to: string; seq: number }[] = [];
  private seq = 0;
  now = 0;
  steps = 0;
  faults: Faults = { drop: 0, duplicate: 0, maxDelay: 1 };
  /** Directed links that are cut: `${from}>${to}`. */
  cut = new Set<string>();
  /** Directed links (`${from}>${to}`) with a fixed extra delay in ticks: a slow link, in order. */
  slow = new Map<string, number>();
  /** Every message as it is sent (tests count what went where). */
  onSend: ((from: string, m: Message) => void) | undefined;
  /**
   * A member that, at `rate`, sends a copy of its message with an extreme term or an out-of-range
   * term/index (its own random stream, so the rest of a schedule stays the same).
   */
  rogue: { id: string; rate: number; rng: () => number } | null = null;
  /** Messages refused at decoding (out of range or malformed). */
  refused = 0;
  private readonly leaders = new Map<number, string>();
  /** Index -> committed entry identity, and the term it was first seen committed in. */
  readonly committed = new Map<number, { identity: string; term: number }>();
  private readonly initial: Membership;
  private blockNo = 0;
  /** Snapshots installed from block stores (completed). */
  installed = 0;
  readonly opts: {
    electionTick: number;
    heartbeatTick: number;
    /** Compact once this many applied entries lie beyond the tail (0: never). */
    compactEvery: number;
    /** Entries kept behind the applied index when compacting. */
    tail: number;
    /** n2 and n4 lead with tight flow control (below); off for tests of other things. */
    tightFlow: boolean;
  };

  constructor(seed: number, ids: string[], opts: Partial<Sim['opts']> = {}) {
    this.rng = mulberry32(seed);
    this.opts = {
      electionTick: 10,
      heartbeatTick: 2,
      compactEvery: 0,
      tail: 0,
      tightFlow: true,
      ...opts,
    };
    this.initial = { voters: [...ids], learners: [], removed: [] };
    for (const id of ids) this.add(id);
  }

  add(id: string): void {
    const stored: Stored = {
      hardState: undefined,
      entries: [],
      snapshot: undefined,
      applied: 0,
      blocks: new Map(),
    };
    this.nodes.set(id, {
      id,
      raft: this.build(id, stored),
      stored,
      up: true,
      persistedCommit: 0,
      lastCommit: 0,
      installing: undefined,
    });
  }

  private build(id: string, stored: Stored): RaftNode {
    return new RaftNode({
      id,
      initial: this.initial,
      genesisHash: GENESIS_HASH,
      storage: {
        ...(stored.hardState ? { hardState: stored.hardState } : {}),
        entries: stored.entries,
        ...(stored.snapshot ? { snapshot: stored.snapshot } : {}),
        applied: stored.applied,
      },
      electionTick: this.opts.electionTick,
      heartbeatTick: this.opts.heartbeatTick,
      random: this.rng,
      blockVerifier: testVerifier,
      // Some nodes apply their backlog in small steps, as the daemon does (deterministic per id).
      maxCommittedPerReady: id.endsWith('1') || id.endsWith('3') ? 2 : Number.POSITIVE_INFINITY,
      // Some lead with flow control as tight as the daemon's relative to its blocks: two or so
      // blocks per append and at most two appends' worth unacknowledged per follower (a test
      // block is about 100 bytes).
      ...(this.opts.tightFlow && (id.endsWith('2') || id.endsWith('4'))
        ? { maxBytesPerMsg: 200 }
        : {}),
    });
  }

  /** Crashed since the last step: every live node's transport sees its connections close. */
  private closed = new Set<string>();

  crash(id: string): void {
    const n = this.nodes.get(id)!;
    n.up = false;
    n.installing = undefined;
    this.closed.add(id);
  }

  restart(id: string): void {
    const n = this.nodes.get(id)!;
    if (n.up) return;
    n.raft = this.build(id, n.stored);
    n.up = true;
    n.lastCommit = n.raft.commit;
    // Stopped mid-install: the blocks up to the persisted snapshot come first.
    const snap = n.stored.snapshot;
    if (snap && snap.index > n.stored.applied) n.installing = { target: snap.index, rd: undefined };
  }

  /**
   * One step of a snapshot install: takes up to a few applied entries after its own from a
   * member it can reach (from that member's block store), checks each against what was
   * committed, applies it; once at the target, finishes the Ready that brought the snapshot.
   */
  private installStep(n: SimNode): void {
    const inst = n.installing!;
    const st = n.stored;
    if (this.rng() < 0.5) return; // the download takes time
    const from = [...this.nodes.values()].filter(
      (p) =>
        p.up &&
        p !== n &&
        p.stored.applied > st.applied &&
        !this.cut.has(`${p.id}>${n.id}`) &&
        !this.cut.has(`${n.id}>${p.id}`),
    );
    if (from.length === 0) return;
    const src = from[Math.floor(this.rng() * from.length)]!;
    const take = 1 + Math.floor(this.rng() * 8);
    for (let k = 0; k < take && st.applied < inst.target; k++) {
      const e = src.stored.blocks.get(st.applied + 1);
      if (!e) break;
      this.applyEntry(n, e);
    }
    if (st.applied < inst.target) return;
    n.installing = undefined;
    this.installed++;
    if (inst.rd) this.finishReady(n, inst.rd);
    this.process(n);
  }

  /** State-machine safety on one applied entry, and the block store. */
  private applyEntry(n: SimNode, e: Entry): void {
    const identity = identityOf(e);
    const seen = this.committed.get(e.index);
    if (seen !== undefined && seen.identity !== identity) {
      throw new Violation(
        `state-machine safety: index ${e.index} applied as ${identity} on ${n.id}, ${seen.identity} elsewhere`,
      );
    }
    if (e.index !== n.stored.applied + 1) {
      throw new Violation(`${n.id} applied index ${e.index} after ${n.stored.applied}`);
    }
    if (!seen) this.committed.set(e.index, { identity, term: n.raft.term });
    n.stored.applied = e.index;
    n.stored.blocks.set(e.index, e);
  }

  /**
   * Catch-up sync as the node does it: `id` takes up to `max` entries that `from` has applied,
   * starting after its own applied index, through acceptCommitted, then handles its Ready.
   * False when there is nothing to take (or `from` compacted it away). A refusal is a bug.
   */
  catchUp(id: string, from: string, max = 16): boolean {
    const n = this.nodes.get(id);
    const src = this.nodes.get(from);
    if (!n?.up || !src?.up || n === src || n.raft.role === 'leader' || n.installing) return false;
    const entries: Entry[] = [];
    // Served from its log, or below its compacted index from its block store.
    for (let i = n.raft.applied + 1; i <= src.stored.applied && entries.length < max; i++) {
      const e = src.raft.entry(i) ?? src.stored.blocks.get(i);
      if (!e) return false;
      entries.push(e);
    }
    if (entries.length === 0) return false;
    try {
      n.raft.acceptCommitted(entries);
    } catch (err) {
      throw new Violation(
        `${id} refused committed entries from ${from}: ${(err as Error).message}`,
      );
    }
    this.process(n);
    return true;
  }

  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.up && n.raft.role === 'leader' && (!best || n.raft.term > best.raft.term)) best = n;
    }
    return best;
  }

  /** A client asks the current leader (if any) to commit a block. */
  propose(): boolean {
    const l = this.leader();
    if (!l) return false;
    try {
      l.raft.propose(makeBlock(l.raft.term, l.id, l.raft.lastBlockHash(), ++this.blockNo));
      return true;
    } catch {
      return false;
    }
  }

  /** A copy of `m` with one extreme value (the engine's own message is sent as well). */
  private forge(m: Message, rng: () => number): Message {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
    if (rng() < 0.5) {
      // Only the term: a node may legitimately be at any term, so this must be survived.
      const term = Math.max(m.term, pick(ACCEPTED_TERMS));
      return { ...m, term, entries: m.entries.map((e) => ({ ...e })) };
    }
    const field = pick(POSITION_FIELDS);
    const value = pick(REFUSED_VALUES);
    if (rng() < 0.5 || m.entries.length === 0) return { ...m, [field]: value };
    const entries = m.entries.map((e, i) =>
      i === 0 ? { ...e, [pick(['index', 'term'])]: value } : e,
    );
    return { ...m, entries };
  }

  private send(from: string, m: Message): void {
    this.onSend?.(from, m);
    if (this.rogue?.id === from && this.rogue.rng() < this.rogue.rate) {
      const forged = encodeMessage(this.forge(m, this.rogue.rng));
      this.queue.push({ at: this.now + 1, bytes: forged, from, to: m.to, seq: this.seq++ });
    }
    const bytes = encodeMessage(m);
    const copies = this.rng() < this.faults.duplicate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      if (this.rng() < this.faults.drop) continue;
      const delay =
        1 + Math.floor(this.rng() * this.faults.maxDelay) + (this.slow.get(`${from}>${m.to}`) ?? 0);
      this.queue.push({ at: this.now + delay, bytes, from, to: m.to, seq: this.seq++ });
    }
  }

  /** One tick of every live node, delivery of due messages, Ready processing, checks. */
  step(): void {
    this.now++;
    this.steps++;
    for (const n of this.nodes.values()) if (n.up) n.raft.tick();
    for (const n of this.nodes.values()) if (n.up && n.installing) this.installStep(n);
    const due = this.queue.filter((q) => q.at <= this.now);
    this.queue = this.queue.filter((q) => q.at > this.now);
    // Reorder deliveries that fall due together (a slow link keeps its order: one stream).
    for (let i = due.length - 1; i > 0; i--) {
      const j = Math.floor(this.rng() * (i + 1));
      [due[i], due[j]] = [due[j]!, due[i]!];
    }
    if (this.slow.size > 0) {
      const isSlow = (q: { from: string; to: string }) => this.slow.has(`${q.from}>${q.to}`);
      const ordered = due.filter(isSlow).sort((a, b) => a.seq - b.seq);
      due.splice(0, due.length, ...due.filter((q) => !isSlow(q)), ...ordered);
    }
    for (const q of due) {
      const n = this.nodes.get(q.to);
      if (!n?.up || this.cut.has(`${q.from}>${q.to}`)) continue;
      let m: Message;
      try {
        m = decodeMessage(q.bytes);
      } catch (err) {
        // What the daemon does too: refuse the message, count it, carry on.
        const code = (err as { code?: string }).code;
        if (code !== 'CONSENSUS_OUT_OF_RANGE' && code !== 'ENCODING_INVALID') throw err;
        this.refused++;
        continue;
      }
      n.raft.step(m);
      this.process(n);
    }
    // The close is seen after the last bytes the crashed node sent (delivered above).
    for (const id of this.closed) {
      for (const n of this.nodes.values()) if (n.up && n.id !== id) n.raft.leaderLost(id);
    }
    this.closed.clear();
    for (const n of this.nodes.values()) if (n.up) this.process(n);
    this.check();
  }

  private process(n: SimNode): void {
    // Installing: the node's loop is busy; the engine only steps messages meanwhile.
    if (n.installing) return;
    while (n.raft.hasReady()) {
      const rd = n.raft.ready();
      const st = n.stored;
      // A snapshot first: persisted with the whole log dropped (what the engine did), then
      // installed from block stores before anything else of this Ready happens.
      if (rd.snapshot) {
        st.snapshot = rd.snapshot;
        st.entries = [];
        if (rd.snapshot.index > st.applied) {
          n.installing = { target: rd.snapshot.index, rd };
          return;
        }
      }
      this.finishReady(n, rd);
    }
  }

  /** Persist (entries, hard state), send, apply, advance; then compact when due. */
  private finishReady(n: SimNode, rd: Ready): void {
    const st = n.stored;
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      st.entries = [...st.entries.filter((e) => e.index < first), ...rd.entries];
    }
    if (rd.hardState) {
      if (rd.hardState.commit < n.persistedCommit) {
        throw new Violation(
          `${n.id}: persisted commit went back ${n.persistedCommit} -> ${rd.hardState.commit}`,
        );
      }
      n.persistedCommit = rd.hardState.commit;
      st.hardState = rd.hardState;
    }
    for (const m of rd.messages) this.send(n.id, m);
    for (const e of rd.committed) if (e.index > st.applied) this.applyEntry(n, e);
    n.raft.advance(rd);
    this.maybeCompact(n);
  }

  /** As the node: compact to applied - tail once `compactEvery` entries lie beyond the last. */
  private maybeCompact(n: SimNode): void {
    const { compactEvery, tail } = this.opts;
    if (compactEvery <= 0) return;
    const st = n.stored;
    const target = Math.min(st.applied, n.raft.applied) - tail;
    const offset = n.raft.currentSnapshot()?.index ?? 0;
    if (target - offset < compactEvery) return;
    n.raft.compact(target, this.hashAt(n, target), new Uint8Array(0));
    const snap = n.raft.currentSnapshot();
    if (snap && snap.index === target) {
      st.snapshot = snap;
      st.entries = st.entries.filter((e) => e.index > snap.index);
    }
  }

  private hashAt(n: SimNode, index: number): Uint8Array {
    for (let i = index; i > 0; i--) {
      const e = n.raft.entry(i);
      if (!e) break;
      if (e.type === 'block') return sha256(e.data);
    }
    return n.raft.currentSnapshot()?.lastBlockHash ?? GENESIS_HASH;
  }

  check(): void {
    const live = [...this.nodes.values()].filter((n) => n.up);
    for (const n of live) {
      if (n.raft.role === 'leader') {
        const prev = this.leaders.get(n.raft.term);
        if (prev !== undefined && prev !== n.id) {
          throw new Violation(`election safety: ${prev} and ${n.id} both led term ${n.raft.term}`);
        }
        this.leaders.set(n.raft.term, n.id);
        // Leader completeness: every committed entry it could hold is in its log.
        for (const [index, { identity, term }] of this.committed) {
          // Only leaders elected after the commit must hold it.
          if (term >= n.raft.term) continue;
          const e = n.raft.entry(index);
          if (!e) {
            if (index > n.raft.lastIndex())
              throw new Violation(
                `leader completeness: leader ${n.id} (term ${n.raft.term}) lacks committed index ${index}`,
              );
            continue;
          }
          if (identityOf(e) !== identity) {
            throw new Violation(
              `leader completeness: leader ${n.id} holds a different entry at committed index ${index}`,
            );
          }
        }
      }
      if (n.raft.commit < n.lastCommit)
        throw new Violation(`${n.id}: commit index went back ${n.lastCommit} -> ${n.raft.commit}`);
      n.lastCommit = n.raft.commit;
    }
    // Log matching: same index and term => same entry and same prefix (checked from the end).
    for (let a = 0; a < live.length; a++) {
      for (let b = a + 1; b < live.length; b++) this.checkLogMatching(live[a]!.raft, live[b]!.raft);
    }
  }

  private checkLogMatching(x: RaftNode, y: RaftNode): void {
    let i = Math.min(x.lastIndex(), y.lastIndex());
    while (i > 0) {
      const ex = x.entry(i);
      const ey = y.entry(i);
      if (!ex || !ey) return;
      if (ex.term === ey.term) break;
      i--;
    }
    for (let j = i; j > 0; j--) {
      const ex = x.entry(j);
      const ey = y.entry(j);
      if (!ex || !ey) return;
      if (ex !== ey && identityOf(ex) !== identityOf(ey)) {
        throw new Violation(
          `log matching: ${x.id} and ${y.id} differ at index ${j} below a matching entry at ${i}`,
        );
      }
      if (j < i - 50) return; // bounded per step; earlier steps checked the older prefix
    }
  }

  heal(): void {
    this.rogue = null;
    this.cut.clear();
    this.faults = { drop: 0, duplicate: 0, maxDelay: 1 };
    for (const n of this.nodes.values()) if (!n.up) this.restart(n.id);
  }

  isolate(group: string[]): void {
    const ids = [...this.nodes.keys()];
    for (const a of ids) {
      for (const b of ids) {
        if (group.includes(a) !== group.includes(b)) this.cut.add(`${a}>${b}`);
      }
    }
  }
}
