/**
 * What the daemon needs from each part it wires together, stated as the few operations it
 * calls. Adapters bind the real @ehr/consensus, @ehr/store and @ehr/p2p to these, so the
 * consensus loop reads as the protocol, not as library plumbing.
 */
import type {
  ConfChange,
  Entry,
  HardState,
  Membership,
  Message,
  Role,
  Snapshot,
} from '@ehr/consensus';
import type { BlockResult, StateScanner } from '@ehr/ledger';
import type { CommitInput, EntryStub, Head, TxReceiptRecord } from '@ehr/store';

export type RaftRole = Role | 'learner';

export interface RaftReady {
  /** The engine's own Ready, handed back on advance. */
  raw: unknown;
  hardState?: HardState;
  entries: Entry[];
  messages: { to: string; bytes: Uint8Array }[];
  committed: Entry[];
  /** The leader's snapshot: this node is behind its compacted log and installs it from blocks. */
  snapshot?: Snapshot;
}

/** The consensus engine as the daemon drives it. */
export interface Raft {
  tick(): void;
  step(from: string, bytes: Uint8Array): void;
  /** A message decoded (and its compact entries filled) by the node: see consensus-inbound.ts. */
  stepMessage(from: string, m: Message): void;
  /** Appends a block entry when leader; throws a coded error otherwise. */
  proposeBlock(data: Uint8Array): void;
  /** One single-server membership change; throws while another is pending. */
  proposeMembership(change: ConfChange): void;
  /** Reads a committed config entry (the engine takes the change itself on advance). */
  applyConfig(entry: Entry): ConfChange;
  /** Catch-up sync: entries a member served as committed (see RaftNode.acceptCommitted). */
  acceptCommitted(entries: Entry[]): void;
  /** Erasure: a committed entry's data without the erased bodies (see RaftNode.redact). */
  redact(index: number, data: Uint8Array): void;
  transferLeadership(to: string): void;
  /** The transport lost every connection to `id` (see RaftNode.leaderLost). */
  leaderLost(id: string): void;
  /** The engine's membership as it stands (not a copy: cheap enough to ask per message). */
  membership(): Readonly<Membership>;
  /** Removed members the leader still replicates to until they acknowledge their removal. */
  leaving(): readonly string[];
  /** Drops the log up to `index` (applied and durable): see RaftNode.compact. */
  compact(index: number, lastBlockHash: Uint8Array, data: Uint8Array): void;
  /** Hash of the last block entry at or before `index`. */
  lastBlockHashAt(index: number): Uint8Array;
  /** The snapshot the log starts after (undefined: never compacted). */
  snapshot(): Snapshot | undefined;
  /** A log entry the engine holds. */
  entry(index: number): Entry | undefined;
  hasReady(): boolean;
  ready(): RaftReady;
  advance(ready: RaftReady): void;
  status(): RaftStatus;
  /** What hot paths ask (role, leader, term, commit), without status()'s copies of lists. */
  view(): RaftView;
}

export type RaftView = Pick<RaftStatus, 'term' | 'leader' | 'role' | 'commit' | 'canPropose'>;

export interface RaftStatus {
  id: string;
  term: number;
  leader: string | null;
  role: RaftRole;
  commit: number;
  applied: number;
  voters: string[];
  learners: string[];
  /** Ids removed from the membership once: never admitted again. */
  removed: string[];
  /** Leader whose term no-op is applied: new blocks build on the applied chain. */
  canPropose: boolean;
  /** Per-follower match index when leader. */
  progress: Record<string, number>;
}

export interface Network {
  readonly nodeId: string;
  readonly addresses: string[];
  send(to: string, bytes: Uint8Array): void;
  onConsensusMessage(handler: (from: string, bytes: Uint8Array) => void): void;
  request(to: string, protocol: string, bytes: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  handle(protocol: string, handler: (from: string, bytes: Uint8Array) => Promise<Uint8Array>): void;
  publish(topic: string, bytes: Uint8Array): Promise<void>;
  subscribe(
    topic: string,
    validate: (from: string, bytes: Uint8Array) => Promise<'accept' | 'reject' | 'ignore'>,
  ): void;
  peers(): { nodeId: string; addresses: string[] }[];
  /** The last connection to a peer closed; returns an unsubscribe function. */
  onPeerDisconnected(fn: (nodeId: string) => void): () => void;
  refreshMembership(): Promise<void>;
  stop(): Promise<void>;
}

/** The node's LevelDB as the daemon uses it. */
export interface NodeStore {
  state: StateScanner;
  head(): Head;
  saveRaft(entries: Entry[], hardState: HardState | undefined): Promise<void>;
  commitBlock(c: CommitInput): Promise<void>;
  /** A no-op or config entry was applied (its stub serves it once compacted). */
  setApplied(raftIndex: number, stub?: Omit<EntryStub, 'index'>): Promise<void>;
  /** Consensus log entries from..to that the store holds. */
  raftEntries(from: number, to: number): Promise<Entry[]>;
  /** Term of the entry at `index` (log, stub or snapshot). */
  raftTermAt(index: number): Promise<number | undefined>;
  /**
   * Applied entries from..to as a member serves them: from the log, or rebuilt from the block
   * store where the log was compacted; read one at a time, so serving holds one entry at once.
   */
  servedEntries(from: number, to: number): AsyncIterable<Entry>;
  /** Makes every write so far durable (see Store.flush); the head it covers. */
  flush(): Promise<Head>;
  /** The last head made durable. */
  durable(): Head;
  /** Index the stored log was compacted to (0: never). */
  compactedIndex(): number;
  /** Drops the stored log up to the snapshot (`discard`: all of it), with stubs it lacks. */
  compactLog(snapshot: Snapshot, opts?: { discard?: boolean; stubs?: EntryStub[] }): Promise<void>;
  /** Stub of an applied entry (undefined: applied by a version that wrote none). */
  stub(index: number): Promise<EntryStub | undefined>;
  blockByHeight(height: number): Promise<Uint8Array | undefined>;
  /** Where a committed transaction is and how it went (by hash). */
  receipt(txHash: Uint8Array): Promise<TxReceiptRecord | undefined>;
  payload(hashHex: string): Promise<Uint8Array | undefined>;
  /** Raft index of the entry that carried a payload's body. */
  payloadEntryIndex(hashHex: string): Promise<number | undefined>;
  close(): Promise<void>;
}

/** An applied block, as the daemon announces it to the other parts. */
export interface BlockEvent {
  height: number;
  hash: string;
  stateHash: string;
  txs: string[];
  time: number;
  /** Per transaction, in block order: who sent it, what it was, how it went. */
  receipts: {
    hash: string;
    author: string | null;
    kind: string | null;
    ok: boolean;
    code: string | null;
  }[];
}

/** Catch-up sync's way in: committed entries a member served, persisted and applied here. */
export type PreparedBatch = { entries: Entry[]; results: Map<string, BlockResult> } | null;
