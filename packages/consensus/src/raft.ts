/**
 * A pure Raft engine (Ongaro & Ousterhout; structure after etcd-io/raft): no timers, sockets,
 * disk, clock or global randomness. The node calls tick() on a timer, step() with messages,
 * propose() with blocks; then takes ready(), persists its entries and hard state, sends its
 * messages, applies its committed entries, and calls advance().
 *
 * Included: randomized election timeouts, PreVote, CheckQuorum with a leader lease, fast log
 * backtracking, commit only of current-term entries, a no-op at the start of each term,
 * single-server membership changes (learner -> voter -> removed; one at a time, applied at
 * commit), leadership transfer (TimeoutNow), snapshots for far-behind followers, and refusal of
 * block entries not signed by the term's leader or not linking to the previous block.
 */
import { EhrError } from '@ehr/core';
import { decodeConfChange, encodeConfChange } from './codec.ts';
import {
  type BlockVerifier,
  type ConfChange,
  type Entry,
  type EntryType,
  type HardState,
  MAX_LOG_POSITION,
  type Membership,
  type Message,
  type Ready,
  type Role,
  type Snapshot,
  type SoftState,
} from './types.ts';

export interface RaftOptions {
  id: string;
  /** Membership before any config entry (from genesis), used when there is no snapshot. */
  initial: Membership;
  /** Hash block 1 links to (the genesis block hash). */
  genesisHash: Uint8Array;
  storage: { hardState?: HardState; entries: Entry[]; snapshot?: Snapshot; applied?: number };
  electionTick: number;
  heartbeatTick: number;
  /** Uniform in [0, 1): injected so that simulations are reproducible. */
  random: () => number;
  checkQuorum?: boolean;
  preVote?: boolean;
  maxEntriesPerMsg?: number;
  /** Entry data per append message (default unbounded); at least one entry always goes. */
  maxBytesPerMsg?: number;
  maxInflightMsgs?: number;
  /**
   * Entry bytes sent to one follower and not yet acknowledged (flow control, like etcd's
   * MaxInflightBytes): no further append with entries goes to it until acknowledgments bring it
   * below. One message always goes, however large. Default: two messages' worth
   * (2 x maxBytesPerMsg), unbounded when maxBytesPerMsg is.
   */
  maxInflightBytes?: number;
  /**
   * Leader ticks without an acknowledgment of new entries from a follower, while entries to it
   * are unacknowledged, before they are sent again from its last acknowledged index (the
   * transport dropped them). Each resend without progress doubles the wait, up to 4 times this.
   * Default: 2 x electionTick (a follower taking a multi-MiB block under load acknowledges
   * later than an election timeout; resending it then only adds load).
   */
  retransmitTicks?: number;
  /**
   * At most this many committed entries per Ready (default: all). A node far behind applies a
   * long backlog in bounded steps, and answers the leader between them instead of going silent
   * for longer than an election timeout.
   */
  maxCommittedPerReady?: number;
  blockVerifier?: BlockVerifier;
}

interface Progress {
  match: number;
  /** The first index not sent yet (entries before it are acknowledged or in flight). */
  next: number;
  /**
   * Probe: one append with entries in flight until answered; replicate: pipelined up to
   * maxInflightMsgs and maxInflightBytes.
   */
  state: 'probe' | 'replicate' | 'snapshot';
  /** Appends with entries sent and not acknowledged, oldest first: last index, entry bytes. */
  inflight: { last: number; bytes: number }[];
  inflightBytes: number;
  /** In probe state: the index the last probe was sent after (a reject for another is stale). */
  probeAt: number;
  /** Leader ticks since entries in flight to this follower last made progress. */
  stalled: number;
  /** Resends since the last progress (each doubles the wait before the next). */
  backoff: number;
  /** Leader ticks since this follower last answered. */
  silent: number;
  active: boolean;
}

/** A follower's progress at the start of a term or when it joins. */
function freshProgress(next: number): Progress {
  return {
    match: 0,
    next,
    state: 'probe',
    inflight: [],
    inflightBytes: 0,
    probeAt: -1,
    stalled: 0,
    backoff: 0,
    silent: 0,
    active: true,
  };
}

/**
 * Election timeouts a leader keeps replicating to a removed member that has not acknowledged
 * the entry removing it (it may be down for good).
 */
const LEAVING_TICKS = 10;
/** Heartbeat intervals a removed member that acknowledged its removal still hears the leader. */
const LEAVING_HEARTBEATS = 3;

/** Resends without progress double the wait at most this many times. */
const MAX_BACKOFF = 2;

const blank = (): Omit<Message, 'type' | 'from' | 'to' | 'term'> => ({
  index: 0,
  logTerm: 0,
  entries: [],
  commit: 0,
  reject: false,
  hintIndex: 0,
  hintTerm: 0,
  transfer: false,
  snapshot: null,
});

export function notLeader(leader: string | null): EhrError {
  return leader
    ? new EhrError('CONSENSUS_NOT_LEADER', `this node is not the leader; send to ${leader}`, {
        leader,
      })
    : new EhrError(
        'CONSENSUS_NO_LEADER',
        'there is no leader right now (election in progress); retry shortly',
        {
          leader: null,
        },
      );
}

export class RaftNode {
  readonly id: string;
  term = 0;
  vote: string | null = null;
  commit = 0;
  applied = 0;
  role: Role = 'follower';
  leader: string | null = null;
  membership: Membership;
  /** Membership before any config entry (genesis): where snapshot membership starts. */
  private readonly initial: Membership;

  private readonly opts: Required<Omit<RaftOptions, 'blockVerifier' | 'storage' | 'initial'>> & {
    blockVerifier?: BlockVerifier;
  };
  /** log[i] has index offset + 1 + i. */
  private log: Entry[] = [];
  private offset = 0;
  private offsetTerm = 0;
  private snapshot: Snapshot | undefined;
  private pendingSnapshot: Snapshot | undefined;
  private stable = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private timeout = 0;
  private votes = new Map<string, boolean>();
  private progress = new Map<string, Progress>();
  private outbox: Message[] = [];
  private pendingConfIndex = 0;
  private transferee: string | null = null;
  /** Index of the no-op that opened this leader's term. */
  private termStart = Number.MAX_SAFE_INTEGER;
  private transferElapsed = 0;
  private prevHard: HardState;
  private prevSoft: SoftState;
  private readonly hashCache = new Map<string, Uint8Array>();
  /**
   * Leader only: members removed by a committed change that have not acknowledged the entry
   * removing them (index), with the leader ticks since; their progress stays until they do.
   */
  private readonly leaving = new Map<string, { index: number; ticks: number; acked?: number }>();
  /** Index of the config entry being applied (applyConf's caller sets it). */
  private applying = 0;

  constructor(o: RaftOptions) {
    this.id = o.id;
    this.opts = {
      id: o.id,
      genesisHash: o.genesisHash,
      electionTick: o.electionTick,
      heartbeatTick: o.heartbeatTick,
      random: o.random,
      checkQuorum: o.checkQuorum ?? true,
      preVote: o.preVote ?? true,
      maxEntriesPerMsg: o.maxEntriesPerMsg ?? 64,
      maxBytesPerMsg: o.maxBytesPerMsg ?? Number.POSITIVE_INFINITY,
      maxInflightMsgs: o.maxInflightMsgs ?? 64,
      maxInflightBytes:
        o.maxInflightBytes ??
        (o.maxBytesPerMsg === undefined ? Number.POSITIVE_INFINITY : 2 * o.maxBytesPerMsg),
      retransmitTicks: o.retransmitTicks ?? 2 * o.electionTick,
      maxCommittedPerReady: o.maxCommittedPerReady ?? Number.POSITIVE_INFINITY,
      ...(o.blockVerifier ? { blockVerifier: o.blockVerifier } : {}),
    };
    const snap = o.storage.snapshot;
    this.initial = cloneMembership(o.initial);
    this.membership = cloneMembership(snap ? snap.membership : o.initial);
    if (snap) {
      this.snapshot = snap;
      this.offset = snap.index;
      this.offsetTerm = snap.term;
      this.commit = snap.index;
      this.applied = snap.index;
    }
    this.log = o.storage.entries.filter((e) => e.index > this.offset);
    for (let i = 0; i < this.log.length; i++) {
      if (this.log[i]!.index !== this.offset + 1 + i) {
        throw new EhrError(
          'CONSENSUS_STORAGE',
          `stored log has a gap at index ${this.offset + 1 + i}`,
        );
      }
    }
    this.stable = this.lastIndex();
    const hs = o.storage.hardState;
    if (hs && hs.term > MAX_LOG_POSITION) {
      // Written by a version that took any term from the network: this node cannot take part.
      throw new EhrError(
        'CONSENSUS_STORAGE',
        `stored term ${hs.term} is beyond the largest term the network accepts (${MAX_LOG_POSITION}); resync this node's data directory from a peer (README: backup and restore)`,
        { term: hs.term, max: MAX_LOG_POSITION },
      );
    }
    if (hs) {
      this.term = hs.term;
      this.vote = hs.vote;
      this.commit = Math.max(this.commit, Math.min(hs.commit, this.lastIndex()));
    }
    // Membership = snapshot's + every committed config entry after it.
    for (const e of this.log) {
      if (e.index > this.commit) break;
      if (e.type === 'config') this.applyConf(decodeConfChange(e.data));
    }
    this.applied = Math.max(this.applied, Math.min(o.storage.applied ?? this.applied, this.commit));
    this.resetTimeout();
    this.prevHard = this.hardState();
    this.prevSoft = { leader: null, role: 'follower' };
  }

  // ---- log helpers -------------------------------------------------------------------------

  lastIndex(): number {
    return this.offset + this.log.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex()) return undefined;
    return this.log[index - this.offset - 1]!.term;
  }

  private lastTerm(): number {
    return this.termAt(this.lastIndex())!;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offset || index > this.lastIndex()) return undefined;
    return this.log[index - this.offset - 1];
  }

  private slice(from: number, to: number): Entry[] {
    return this.log.slice(from - this.offset - 1, to - this.offset);
  }

  private hashOfEntry(e: Entry): Uint8Array {
    const key = `${e.index}:${e.term}`;
    let h = this.hashCache.get(key);
    if (!h) {
      h = this.opts.blockVerifier!.hashOf(e.data);
      this.hashCache.set(key, h);
      if (this.hashCache.size > 4096) this.hashCache.delete(this.hashCache.keys().next().value!);
    }
    return h;
  }

  /** Hash of the last block entry before `index`. */
  private prevBlockHash(index: number): Uint8Array {
    for (let i = index - 1; i > this.offset; i--) {
      const e = this.entry(i)!;
      if (e.type === 'block') return this.hashOfEntry(e);
    }
    return this.snapshot?.lastBlockHash ?? this.opts.genesisHash;
  }

  /** What the next block must link to: the hash of the last block entry in the log. */
  lastBlockHash(): Uint8Array {
    return this.prevBlockHash(this.lastIndex() + 1);
  }

  private upToDate(index: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && index >= this.lastIndex());
  }

  // ---- membership --------------------------------------------------------------------------

  isVoter(id = this.id): boolean {
    return this.membership.voters.includes(id);
  }

  private members(): string[] {
    return [...this.membership.voters, ...this.membership.learners];
  }

  private quorum(): number {
    return Math.floor(this.membership.voters.length / 2) + 1;
  }

  private applyConf(cc: ConfChange): void {
    changeMembership(this.membership, cc);
    if (this.role === 'leader') {
      for (const n of this.members()) {
        if (n !== this.id && !this.progress.has(n)) {
          this.progress.set(n, freshProgress(this.lastIndex() + 1));
        }
      }
      for (const n of [...this.progress.keys()]) {
        if (this.members().includes(n)) continue;
        // A member just removed learns it only from an append that carries the removal entry
        // and a commit index covering it: keep replicating to it (it counts toward no quorum)
        // until it has acknowledged that entry, for at most LEAVING_TICKS.
        if (cc.op === 'remove' && cc.node === n && this.leaving.get(n) === undefined) {
          this.leaving.set(n, { index: this.applying, ticks: 0 });
          this.maybeReleaseLeaving(n);
        } else if (!this.leaving.has(n)) this.progress.delete(n);
      }
      if (!this.isVoter()) this.becomeFollower(this.term, null);
      else this.maybeCommit();
    }
  }

  // ---- state transitions -------------------------------------------------------------------

  private resetTimeout(): void {
    const e = this.opts.electionTick;
    this.timeout = e + Math.floor(this.opts.random() * e);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = null;
    }
    this.leader = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetTimeout();
    this.votes.clear();
    this.transferee = null;
    this.leaving.clear();
  }

  private becomeFollower(term: number, leader: string | null): void {
    this.reset(term);
    this.role = 'follower';
    this.leader = leader;
  }

  private becomePreCandidate(): void {
    this.role = 'precandidate';
    this.votes.clear();
    this.leader = null;
    this.electionElapsed = 0;
    this.resetTimeout();
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.role = 'candidate';
    this.vote = this.id;
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.leader = this.id;
    this.progress.clear();
    this.leaving.clear();
    for (const n of this.members()) {
      if (n === this.id) continue;
      this.progress.set(n, freshProgress(this.lastIndex() + 1));
    }
    // Uncommitted config entries from earlier terms still count as pending.
    this.pendingConfIndex = 0;
    for (let i = this.commit + 1; i <= this.lastIndex(); i++) {
      if (this.entry(i)!.type === 'config') this.pendingConfIndex = i;
    }
    this.termStart = this.appendLocal('noop', new Uint8Array(0));
    this.broadcastAppend();
  }

  /**
   * True once this leader's term no-op is applied: every block from earlier terms is then
   * committed and applied, so a new block can build on the applied chain and link correctly.
   */
  canPropose(): boolean {
    return this.role === 'leader' && this.transferee === null && this.applied >= this.termStart;
  }

  private campaign(kind: 'prevote' | 'vote', transfer = false): void {
    if (!this.isVoter()) return;
    if (kind === 'prevote') this.becomePreCandidate();
    else this.becomeCandidate();
    const term = kind === 'prevote' ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    if (this.tally() === 'won') return this.winElection(kind);
    for (const v of this.membership.voters) {
      if (v === this.id) continue;
      this.send({
        ...blank(),
        type: kind,
        from: this.id,
        to: v,
        term,
        index: this.lastIndex(),
        logTerm: this.lastTerm(),
        transfer,
      });
    }
  }

  private tally(): 'won' | 'lost' | 'pending' {
    let yes = 0;
    let no = 0;
    for (const v of this.membership.voters) {
      const r = this.votes.get(v);
      if (r === true) yes++;
      else if (r === false) no++;
    }
    if (yes >= this.quorum()) return 'won';
    if (no >= this.quorum()) return 'lost';
    return 'pending';
  }

  private winElection(kind: 'prevote' | 'vote'): void {
    if (kind === 'prevote') this.campaign('vote');
    else this.becomeLeader();
  }

  // ---- inputs ------------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') {
      this.heartbeatElapsed++;
      this.electionElapsed++;
      if (this.transferee !== null && ++this.transferElapsed >= this.opts.electionTick)
        this.transferee = null;
      if (this.electionElapsed >= this.opts.electionTick) {
        this.electionElapsed = 0;
        if (this.opts.checkQuorum && !this.quorumActive()) {
          this.becomeFollower(this.term, null);
          return;
        }
      }
      this.ageLeaving();
      for (const pr of this.progress.values()) pr.silent++;
      this.retransmitStalled();
      if (this.heartbeatElapsed >= this.opts.heartbeatTick) {
        this.heartbeatElapsed = 0;
        this.heartbeat();
      }
      return;
    }
    this.electionElapsed++;
    if (this.electionElapsed >= this.timeout && this.isVoter()) {
      this.electionElapsed = 0;
      this.campaign(this.opts.preVote ? 'prevote' : 'vote');
    }
  }

  /**
   * The transport saw its last connection to `id` close (a crashed process's sockets close at
   * once). If `id` is this follower's leader, its lease ends here (this node now grants other
   * members' pre-votes) and this node campaigns within a third of an election timeout, at a
   * random tick, instead of after a full one: followers that lose the leader at the same moment
   * then rarely split the vote. Safe against a flapping link: a pre-vote changes no term, and
   * members that still hear the leader are in its lease and refuse it; the leader's next append
   * restores it here. A partition closes no connection, so it still waits out the timeout.
   */
  leaderLost(id: string): void {
    if (!this.opts.preVote || this.role !== 'follower' || this.leader !== id) return;
    if (!this.isVoter()) return;
    this.leader = null;
    const spread = Math.max(1, Math.floor(this.opts.electionTick / 3));
    const soon = 1 + Math.floor(this.opts.random() * spread);
    this.electionElapsed = Math.max(this.electionElapsed, this.timeout - soon);
  }

  private quorumActive(): boolean {
    let active = this.isVoter() ? 1 : 0;
    for (const [n, pr] of this.progress) {
      if (pr.active && this.membership.voters.includes(n)) active++;
      pr.active = false;
    }
    return active >= this.quorum();
  }

  /** Appends a block (leader only); throws CONSENSUS_NOT_LEADER / CONSENSUS_NO_LEADER otherwise. */
  propose(data: Uint8Array): number {
    return this.proposeEntry('block', data);
  }

  proposeConfChange(cc: ConfChange): number {
    if (this.role !== 'leader') throw notLeader(this.leader);
    if (this.pendingConfIndex > this.commit) {
      throw new EhrError(
        'CONSENSUS_CONF_PENDING',
        'another membership change is still being committed; retry after it',
        {},
      );
    }
    const m = this.membership;
    if (m.removed.includes(cc.node)) {
      throw new EhrError(
        'CONSENSUS_ID_REMOVED',
        `node ${cc.node.slice(0, 12)}… was removed and can never rejoin`,
        { node: cc.node },
      );
    }
    if (cc.op === 'addLearner' && (m.voters.includes(cc.node) || m.learners.includes(cc.node))) {
      throw new EhrError('CONSENSUS_BAD_CHANGE', 'node is already a member', { node: cc.node });
    }
    if (cc.op === 'promote' && !m.learners.includes(cc.node)) {
      throw new EhrError('CONSENSUS_BAD_CHANGE', 'only a learner can be promoted to voter', {
        node: cc.node,
      });
    }
    if (cc.op === 'remove' && !m.voters.includes(cc.node) && !m.learners.includes(cc.node)) {
      throw new EhrError('CONSENSUS_BAD_CHANGE', 'node is not a member', { node: cc.node });
    }
    if (cc.op === 'remove' && m.voters.length === 1 && m.voters[0] === cc.node) {
      throw new EhrError('CONSENSUS_BAD_CHANGE', 'cannot remove the last voter', { node: cc.node });
    }
    const index = this.proposeEntry('config', encodeConfChange(cc));
    this.pendingConfIndex = index;
    return index;
  }

  private proposeEntry(type: EntryType, data: Uint8Array): number {
    if (this.role !== 'leader') throw notLeader(this.leader);
    if (this.transferee !== null) {
      throw new EhrError(
        'CONSENSUS_TRANSFERRING',
        'leadership is being transferred; retry shortly',
        { to: this.transferee },
      );
    }
    const index = this.appendLocal(type, data);
    this.broadcastAppend();
    return index;
  }

  transferLeadership(to: string): void {
    if (this.role !== 'leader') throw notLeader(this.leader);
    if (to === this.id || !this.membership.voters.includes(to)) {
      throw new EhrError('CONSENSUS_BAD_TRANSFER', 'leadership can only go to another voter', {
        to,
      });
    }
    this.transferee = to;
    this.transferElapsed = 0;
    const pr = this.progress.get(to)!;
    if (pr.match === this.lastIndex())
      this.send({ ...blank(), type: 'timeoutNow', from: this.id, to, term: this.term });
    else this.sendAppend(to);
  }

  /**
   * The node has applied everything up to `index` (and made it durable); drop the log up to it.
   * The snapshot's membership is the one in force at `index` (the previous snapshot's, or the
   * initial one, with the config entries up to `index`), not at the applied index: a follower
   * installing it takes the later changes from the entries after it.
   */
  compact(index: number, lastBlockHash: Uint8Array, data: Uint8Array): void {
    if (index > this.applied || index <= this.offset) return;
    const term = this.termAt(index)!;
    const membership = cloneMembership(this.snapshot?.membership ?? this.initial);
    for (let i = this.offset + 1; i <= index; i++) {
      const e = this.entry(i)!;
      if (e.type === 'config') changeMembership(membership, decodeConfChange(e.data));
    }
    this.snapshot = { index, term, membership, lastBlockHash, data };
    this.log = this.log.slice(index - this.offset);
    this.offset = index;
    this.offsetTerm = term;
  }

  currentSnapshot(): Snapshot | undefined {
    return this.snapshot;
  }

  /** Hash of the last block entry at or before `index` (held in the log, or the snapshot's). */
  lastBlockHashAt(index: number): Uint8Array {
    return this.prevBlockHash(Math.min(index, this.lastIndex()) + 1);
  }

  /** The index the log starts after (the snapshot's; 0 when nothing was compacted). */
  firstIndex(): number {
    return this.offset + 1;
  }

  /**
   * Catch-up sync: takes entries that a member served as committed (fetched outside replication,
   * in bulk, and checked by the node), appends what this log lacks and moves the commit index to
   * the last one, so they are persisted and applied through Ready exactly as if the leader had
   * replicated them. A suffix of this log that conflicts is replaced: an index holds at most one
   * committed entry, so an entry of another term there was never committed, nor anything after
   * it (log matching). Entries at or below this node's commit index must equal its own (throws
   * CONSENSUS_SAFETY otherwise); block entries are checked by the verifier (without a leader,
   * as for entries of earlier terms), and nothing changes unless every entry passes. A leader
   * already holds every committed entry, so it refuses (CONSENSUS_IS_LEADER).
   */
  /**
   * Replaces the data of a committed entry, keeping its index, term and type: erasure of health
   * data carried beside a block (the block's hash does not cover it, so every check still
   * holds). Only committed entries, which never change otherwise; the caller persists the same
   * rewrite.
   */
  redact(index: number, data: Uint8Array): void {
    if (index > this.commit || index <= this.offset || index > this.lastIndex()) {
      throw new EhrError(
        'CONSENSUS_BAD_ENTRIES',
        `entry ${index} cannot be redacted: only committed entries held in the log (${this.offset + 1}..${Math.min(this.commit, this.lastIndex())})`,
        { index },
      );
    }
    const i = index - this.offset - 1;
    this.log[i] = { ...this.log[i]!, data };
  }

  acceptCommitted(entries: Entry[]): void {
    if (this.role === 'leader')
      throw new EhrError('CONSENSUS_IS_LEADER', 'a leader holds every committed entry', {});
    const fresh = entries.filter((e) => e.index > this.offset);
    if (fresh.length === 0) return;
    for (let i = 0; i < fresh.length; i++) {
      const e = fresh[i]!;
      if (e.index !== fresh[0]!.index + i || (i > 0 && e.term < fresh[i - 1]!.term)) {
        throw new EhrError(
          'CONSENSUS_BAD_ENTRIES',
          `entries are not contiguous at index ${e.index}`,
          {
            index: e.index,
          },
        );
      }
    }
    // They must continue this node's committed prefix: only that is known to match the log
    // they come from.
    if (fresh[0]!.index > this.commit + 1) {
      throw new EhrError(
        'CONSENSUS_BAD_ENTRIES',
        `entries start at ${fresh[0]!.index}, after this node's commit index ${this.commit} + 1`,
        { index: fresh[0]!.index },
      );
    }
    if (fresh[0]!.index > this.offset + 1 && this.termAt(fresh[0]!.index - 1)! > fresh[0]!.term) {
      throw new EhrError(
        'CONSENSUS_BAD_ENTRIES',
        `entry ${fresh[0]!.index} has a term below its predecessor's`,
        { index: fresh[0]!.index },
      );
    }
    // The first entry this log does not already hold; everything before it is identical.
    const k = fresh.findIndex((e) => this.termAt(e.index) !== e.term);
    if (k >= 0) {
      const from = fresh[k]!.index;
      if (from <= this.commit) {
        throw new EhrError(
          'CONSENSUS_SAFETY',
          `served entry ${from} (term ${fresh[k]!.term}) differs from this node's committed one (term ${this.termAt(from)})`,
          { index: from },
        );
      }
      const adding = fresh.slice(k);
      if (this.opts.blockVerifier) {
        let prevHash = this.prevBlockHash(from);
        for (const e of adding) {
          if (e.type !== 'block') continue;
          const why = this.opts.blockVerifier.check(e.data, {
            term: e.term,
            leader: null,
            prevHash,
          });
          if (why) {
            throw new EhrError('CONSENSUS_BAD_ENTRIES', `entry ${e.index} refused: ${why}`, {
              index: e.index,
            });
          }
          prevHash = this.opts.blockVerifier.hashOf(e.data);
        }
      }
      this.log = [...this.log.slice(0, from - this.offset - 1), ...adding];
      this.stable = Math.min(this.stable, from - 1);
    }
    const lastTerm = this.lastTerm();
    // A term seen in the log is a term that happened: adopt it (and forget an older vote) as a
    // follower does on hearing from a newer leader.
    if (lastTerm > this.term) this.becomeFollower(lastTerm, null);
    this.commit = Math.max(this.commit, fresh.at(-1)!.index);
  }

  private appendLocal(type: EntryType, data: Uint8Array): number {
    const index = this.lastIndex() + 1;
    this.log.push({ index, term: this.term, type, data });
    return index;
  }

  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.term > this.term) {
      if ((m.type === 'prevote' || m.type === 'vote') && !m.transfer && this.inLease()) return;
      if (m.type === 'prevote') {
        // no term change for pre-votes
      } else if (m.type === 'prevoteResp' && !m.reject) {
        // a granted pre-vote carries the future term
      } else if (m.type === 'append' || m.type === 'snapshot') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if (m.type === 'append' || (m.type === 'prevote' && !this.inLease())) {
        // Tell a stale leader (or a pre-candidate) the current term so it steps down.
        this.send({
          ...blank(),
          type: m.type === 'append' ? 'appendResp' : 'prevoteResp',
          from: this.id,
          to: m.from,
          term: this.term,
          reject: true,
        });
      }
      return;
    }
    switch (m.type) {
      case 'prevote':
      case 'vote':
        return this.onVoteRequest(m);
      case 'prevoteResp':
      case 'voteResp':
        return this.onVoteResponse(m);
      case 'append':
        return this.onAppend(m);
      case 'appendResp':
        return this.onAppendResponse(m);
      case 'snapshot':
        return this.onSnapshot(m);
      case 'timeoutNow':
        if (this.isVoter() && this.role !== 'leader') this.campaign('vote', true);
        return;
    }
  }

  private inLease(): boolean {
    return (
      this.opts.checkQuorum && this.leader !== null && this.electionElapsed < this.opts.electionTick
    );
  }

  private onVoteRequest(m: Message): void {
    const resp = m.type === 'prevote' ? 'prevoteResp' : 'voteResp';
    const canVote =
      m.type === 'prevote'
        ? m.term > this.term || this.vote === null || this.vote === m.from
        : this.vote === null || this.vote === m.from;
    const grant =
      this.isVoter() &&
      this.membership.voters.includes(m.from) &&
      canVote &&
      this.upToDate(m.index, m.logTerm) &&
      !(m.type === 'prevote' && this.role === 'leader');
    if (grant && m.type === 'vote') {
      this.vote = m.from;
      this.electionElapsed = 0;
    }
    this.send({
      ...blank(),
      type: resp,
      from: this.id,
      to: m.from,
      term: grant ? m.term : this.term,
      reject: !grant,
    });
  }

  private onVoteResponse(m: Message): void {
    const expecting =
      (this.role === 'precandidate' && m.type === 'prevoteResp') ||
      (this.role === 'candidate' && m.type === 'voteResp');
    if (!expecting) return;
    if (m.type === 'prevoteResp' && !m.reject && m.term !== this.term + 1) return;
    this.votes.set(m.from, !m.reject);
    const t = this.tally();
    if (t === 'won') this.winElection(m.type === 'prevoteResp' ? 'prevote' : 'vote');
    else if (t === 'lost') this.becomeFollower(this.term, null);
  }

  private onAppend(m: Message): void {
    if (this.role !== 'follower') this.becomeFollower(m.term, m.from);
    this.leader = m.from;
    this.electionElapsed = 0;
    const reply = (extra: Partial<Message>) =>
      this.send({
        ...blank(),
        type: 'appendResp',
        from: this.id,
        to: m.from,
        term: this.term,
        ...extra,
      });
    if (m.index < this.commit) return reply({ index: this.commit });
    const t = this.termAt(m.index);
    if (t === undefined || t !== m.logTerm) {
      // Fast backtracking: skip back over the whole conflicting term.
      let hint = Math.min(m.index, this.lastIndex());
      while (hint > this.offset && (this.termAt(hint) ?? 0) > m.logTerm) hint--;
      return reply({
        reject: true,
        index: m.index,
        hintIndex: hint,
        hintTerm: this.termAt(hint) ?? 0,
      });
    }
    let last = m.index;
    for (const e of m.entries) {
      if (e.index <= this.offset) continue;
      const existing = this.termAt(e.index);
      if (existing === e.term) {
        last = e.index;
        continue;
      }
      if (e.type === 'block' && this.opts.blockVerifier) {
        const why = this.opts.blockVerifier.check(e.data, {
          term: e.term,
          leader: e.term === m.term ? m.from : null,
          prevHash: this.prevBlockHash(e.index),
        });
        if (why)
          return reply({
            reject: true,
            index: m.index,
            hintIndex: last,
            hintTerm: this.termAt(last) ?? 0,
          });
      }
      if (existing !== undefined) {
        if (e.index <= this.commit)
          throw new EhrError(
            'CONSENSUS_SAFETY',
            `leader tried to overwrite committed entry ${e.index}`,
          );
        this.log = this.log.slice(0, e.index - this.offset - 1);
        this.stable = Math.min(this.stable, e.index - 1);
      }
      this.log.push(e);
      last = e.index;
    }
    const commit = Math.min(m.commit, last);
    if (commit > this.commit) this.commit = commit;
    reply({ index: last });
  }

  private onSnapshot(m: Message): void {
    const s = m.snapshot!;
    this.leader = m.from;
    this.electionElapsed = 0;
    const reply = (index: number) =>
      this.send({
        ...blank(),
        type: 'appendResp',
        from: this.id,
        to: m.from,
        term: this.term,
        index,
      });
    if (s.index <= this.commit) return reply(this.commit);
    if (this.termAt(s.index) === s.term) {
      // We hold the snapshot's entry: keep the log, just fast-forward the commit.
      this.commit = s.index;
      return reply(s.index);
    }
    this.log = [];
    this.offset = s.index;
    this.offsetTerm = s.term;
    this.snapshot = s;
    this.pendingSnapshot = s;
    this.membership = cloneMembership(s.membership);
    this.commit = s.index;
    this.stable = s.index;
    reply(s.index);
  }

  private onAppendResponse(m: Message): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (!pr) return;
    // An acknowledgment past this leader's log is a lie (or a bug): nothing to learn from it.
    if (m.index > this.lastIndex()) return;
    pr.active = true;
    // A follower heard again after an election timeout of silence (it restarted, or a partition
    // healed) lost what was sent meanwhile: resend at once below, not after the backed-off wait.
    const back = pr.silent >= this.opts.electionTick;
    pr.silent = 0;
    if (m.reject) {
      if (m.index < pr.match) return; // stale
      // In probe state only the answer to the last probe (or to a heartbeat at the acknowledged
      // index, which a follower that lost its log refuses) moves anything: an older one would
      // resend what is already on its way.
      if (pr.state === 'probe' && m.index !== pr.probeAt && m.index !== pr.match) return;
      // A follower whose log ends below what it once acknowledged lost its storage (a wiped
      // data directory being resynced): believe its log, not our memory of it.
      if (m.hintIndex < pr.match) pr.match = m.hintIndex;
      let next = m.hintIndex + 1;
      if (m.hintTerm > 0) {
        let i = Math.min(m.hintIndex, this.lastIndex());
        while (i > this.offset && (this.termAt(i) ?? 0) > m.hintTerm) i--;
        // The conflict reaches back into what this log compacted: only a snapshot repairs it
        // (next at the snapshot index has no previous entry to probe with).
        next = i === this.offset && (this.termAt(i) ?? 0) > m.hintTerm ? i : i + 1;
      }
      pr.next = Math.max(Math.min(pr.match + 1, this.offset), Math.min(next, this.lastIndex() + 1));
      this.toProbe(pr);
      this.sendAppend(m.from);
      return;
    }
    if (m.index > pr.match) {
      pr.match = m.index;
      pr.stalled = 0;
      pr.backoff = 0;
      if (pr.state !== 'replicate') pr.state = 'replicate';
    }
    // Acknowledged: every append that ended at or before this index.
    while (pr.inflight.length > 0 && pr.inflight[0]!.last <= m.index) {
      pr.inflightBytes -= pr.inflight.shift()!.bytes;
    }
    pr.next = Math.max(pr.next, pr.match + 1);
    if (back && pr.inflight.length > 0 && m.index === pr.match) {
      pr.backoff = 0;
      pr.next = pr.match + 1;
      this.toProbe(pr);
    }
    this.maybeReleaseLeaving(m.from);
    if (this.maybeCommit()) this.broadcastAppend(true);
    else if (pr.next <= this.lastIndex()) this.sendAppend(m.from);
    if (this.transferee === m.from && pr.match === this.lastIndex()) {
      this.send({ ...blank(), type: 'timeoutNow', from: this.id, to: m.from, term: this.term });
    }
  }

  /**
   * A removed member that has acknowledged the entry removing it gets an empty append at once,
   * whose commit index covers that entry (it then applies its own removal); heartbeats repeat it
   * for LEAVING_HEARTBEATS more heartbeat intervals (one may be lost), then it is forgotten.
   */
  private maybeReleaseLeaving(id: string): boolean {
    const l = this.leaving.get(id);
    const pr = this.progress.get(id);
    if (!l || !pr || l.acked !== undefined || pr.match < l.index) return false;
    l.acked = l.ticks;
    this.sendEmpty(id, pr);
    return true;
  }

  /** Forgets removed members told of their removal, or silent for LEAVING_TICKS timeouts. */
  private ageLeaving(): void {
    for (const [id, l] of this.leaving) {
      l.ticks++;
      const told =
        l.acked !== undefined && l.ticks - l.acked >= LEAVING_HEARTBEATS * this.opts.heartbeatTick;
      if (!told && l.ticks < LEAVING_TICKS * this.opts.electionTick) continue;
      this.leaving.delete(id);
      this.progress.delete(id);
    }
  }

  /** Members removed by a committed change that this leader still replicates to. */
  leavingMembers(): string[] {
    return [...this.leaving.keys()];
  }

  /** Forgets what is in flight to a follower: the next append starts at `pr.next`. */
  private toProbe(pr: Progress): void {
    pr.state = 'probe';
    pr.inflight = [];
    pr.inflightBytes = 0;
    pr.stalled = 0;
  }

  /**
   * Entries in flight to a follower that has acknowledged nothing new for retransmitTicks
   * (doubled per resend without progress) were dropped on the way: send again from its last
   * acknowledged index. Only then: a heartbeat never resends entries, so a large append is not
   * sent again every heartbeat while the first copy is still on its way.
   */
  private retransmitStalled(): void {
    for (const [n, pr] of this.progress) {
      if (pr.inflight.length === 0) continue;
      if (++pr.stalled < this.opts.retransmitTicks * 2 ** pr.backoff) continue;
      pr.backoff = Math.min(MAX_BACKOFF, pr.backoff + 1);
      pr.next = pr.match + 1;
      this.toProbe(pr);
      this.sendAppend(n);
    }
  }

  private maybeCommit(): boolean {
    const matches = this.membership.voters
      .map((v) => (v === this.id ? this.stable : (this.progress.get(v)?.match ?? 0)))
      .sort((a, b) => b - a);
    const candidate = matches[this.quorum() - 1] ?? 0;
    if (candidate > this.commit && this.termAt(candidate) === this.term) {
      this.commit = candidate;
      return true;
    }
    return false;
  }

  /** `commitOnly`: also send empty appends, so followers learn a new commit index at once. */
  private broadcastAppend(commitOnly = false): void {
    for (const n of this.progress.keys()) this.sendAppend(n, commitOnly);
  }

  private heartbeat(): void {
    // New entries if flow control lets them go, otherwise an empty append carrying the commit
    // index (lost entries are resent by retransmitStalled, not here).
    for (const n of this.progress.keys()) this.sendAppend(n, true);
  }

  /**
   * Sends `to` the entries from its next index, as far as flow control allows (one append in
   * flight in probe state; maxInflightMsgs and maxInflightBytes in replicate state). `force`:
   * when no entries go, send an empty append anyway (a heartbeat, or news of the commit index).
   */
  private sendAppend(to: string, force = false): void {
    const pr = this.progress.get(to)!;
    const full =
      pr.state === 'probe'
        ? pr.inflight.length > 0
        : pr.inflight.length >= this.opts.maxInflightMsgs;
    if (full) {
      if (force) this.sendEmpty(to, pr);
      return;
    }
    const prev = pr.next - 1;
    const prevTerm = this.termAt(prev);
    if (prevTerm === undefined) {
      if (!this.snapshot) return;
      pr.state = 'snapshot';
      pr.next = this.snapshot.index + 1;
      this.send({
        ...blank(),
        type: 'snapshot',
        from: this.id,
        to,
        term: this.term,
        snapshot: this.snapshot,
      });
      return;
    }
    let last = Math.min(this.lastIndex(), pr.next + this.opts.maxEntriesPerMsg - 1);
    let entries = last >= pr.next ? this.slice(pr.next, last) : [];
    // At most maxBytesPerMsg of entry data per message (always at least one entry, which the
    // node bounds by its block size), so one message fits the transport's frame limit.
    let bytes = 0;
    const fit = entries.findIndex((e, i) => {
      bytes += e.data.length;
      return i > 0 && bytes > this.opts.maxBytesPerMsg;
    });
    if (fit > 0) {
      entries = entries.slice(0, fit);
      last = pr.next + fit - 1;
      bytes = entries.reduce((n, e) => n + e.data.length, 0);
    }
    // Flow control by bytes: with anything in flight, nothing that would take the follower's
    // unacknowledged bytes past the limit.
    if (
      entries.length > 0 &&
      pr.inflight.length > 0 &&
      pr.inflightBytes + bytes > this.opts.maxInflightBytes
    ) {
      if (force) this.sendEmpty(to, pr);
      return;
    }
    if (entries.length === 0) {
      if (!force) return;
      if (pr.inflight.length > 0) return this.sendEmpty(to, pr);
    }
    if (pr.state === 'probe') pr.probeAt = prev;
    this.send({
      ...blank(),
      type: 'append',
      from: this.id,
      to,
      term: this.term,
      index: prev,
      logTerm: prevTerm,
      entries,
      commit: Math.min(this.commit, entries.length > 0 ? last : prev),
    });
    if (entries.length > 0) {
      pr.next = last + 1;
      pr.inflight.push({ last, bytes });
      pr.inflightBytes += bytes;
    }
  }

  /**
   * An empty append after the follower's acknowledged index while entries to it are in flight:
   * it resets the follower's election timer and carries the commit index as far as the follower
   * is known to hold, and cannot overtake those entries and be refused for a gap (the transport
   * may carry it on a faster lane).
   */
  private sendEmpty(to: string, pr: Progress): void {
    let at = pr.match;
    let term = this.termAt(at);
    if (term === undefined && pr.state === 'snapshot') {
      // Sent a snapshot it is still installing (which can take a while): heartbeats at the
      // snapshot keep it from campaigning meanwhile; one that lacks it refuses, and the
      // refusal sends the snapshot again.
      at = this.offset;
      term = this.offsetTerm;
    }
    if (term === undefined) {
      // Compacted past what the follower acknowledged: a snapshot follows on the next resend.
      return;
    }
    this.send({
      ...blank(),
      type: 'append',
      from: this.id,
      to,
      term: this.term,
      index: at,
      logTerm: term,
      entries: [],
      commit: Math.min(this.commit, at),
    });
  }

  private send(m: Message): void {
    this.outbox.push(m);
  }

  // ---- Ready -------------------------------------------------------------------------------

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.commit };
  }

  softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  private committedToApply(): Entry[] {
    const from = Math.max(this.applied + 1, this.offset + 1);
    const upTo = Math.min(this.commit, this.stable, from + this.opts.maxCommittedPerReady - 1);
    if (upTo < from) return [];
    return this.slice(from, upTo);
  }

  hasReady(): boolean {
    const hs = this.prevHard;
    return (
      this.outbox.length > 0 ||
      this.lastIndex() > this.stable ||
      this.pendingSnapshot !== undefined ||
      hs.term !== this.term ||
      hs.vote !== this.vote ||
      hs.commit !== this.commit ||
      this.prevSoft.leader !== this.leader ||
      this.prevSoft.role !== this.role ||
      this.committedToApply().length > 0
    );
  }

  ready(): Ready {
    const rd: Ready = {
      entries: this.lastIndex() > this.stable ? this.slice(this.stable + 1, this.lastIndex()) : [],
      messages: this.outbox,
      committed: this.committedToApply(),
    };
    this.outbox = [];
    const hs = this.hardState();
    if (
      hs.term !== this.prevHard.term ||
      hs.vote !== this.prevHard.vote ||
      hs.commit !== this.prevHard.commit
    )
      rd.hardState = hs;
    const ss = this.softState();
    if (ss.leader !== this.prevSoft.leader || ss.role !== this.prevSoft.role) rd.softState = ss;
    if (this.pendingSnapshot) rd.snapshot = this.pendingSnapshot;
    return rd;
  }

  advance(rd: Ready): void {
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.softState) this.prevSoft = rd.softState;
    if (rd.snapshot) {
      if (this.pendingSnapshot === rd.snapshot) this.pendingSnapshot = undefined;
      this.applied = Math.max(this.applied, rd.snapshot.index);
      this.stable = Math.max(this.stable, rd.snapshot.index);
    }
    const lastNew = rd.entries.at(-1);
    if (lastNew && this.termAt(lastNew.index) === lastNew.term)
      this.stable = Math.max(this.stable, lastNew.index);
    for (const e of rd.committed) {
      if (e.index <= this.applied) continue;
      if (e.type === 'config') {
        this.applying = e.index;
        this.applyConf(decodeConfChange(e.data));
      }
      this.applied = e.index;
    }
    if (this.role === 'leader' && this.maybeCommit()) this.broadcastAppend(true);
  }

  progressOf(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [n, pr] of this.progress) out[n] = pr.match;
    return out;
  }
}

/** A committed configuration change, on a membership (in place). */
function changeMembership(m: Membership, cc: ConfChange): void {
  if (cc.op === 'addLearner') {
    if (
      !m.learners.includes(cc.node) &&
      !m.voters.includes(cc.node) &&
      !m.removed.includes(cc.node)
    )
      m.learners.push(cc.node);
  } else if (cc.op === 'promote') {
    if (m.learners.includes(cc.node)) {
      m.learners = m.learners.filter((n) => n !== cc.node);
      m.voters.push(cc.node);
    }
  } else {
    m.voters = m.voters.filter((n) => n !== cc.node);
    m.learners = m.learners.filter((n) => n !== cc.node);
    if (!m.removed.includes(cc.node)) m.removed.push(cc.node);
  }
}

function cloneMembership(m: Membership): Membership {
  return { voters: [...m.voters], learners: [...m.learners], removed: [...m.removed] };
}
