/**
 * What the daemon needs from each part it wires together, stated as the few operations it
 * calls. Adapters bind the real @ehr/consensus, @ehr/store and @ehr/p2p to these, so the
 * consensus loop reads as the protocol, not as library plumbing.
 */
import type { StateScanner, WriteSet } from '@ehr/ledger';

export type RaftRole = 'leader' | 'follower' | 'candidate' | 'precandidate' | 'learner';

export interface RaftEntry {
  index: number;
  term: number;
  type: 'noop' | 'block' | 'config';
  data: Uint8Array;
}

export interface RaftHardState {
  term: number;
  vote: string | null;
  commit: number;
}

export interface RaftSnapshotMeta {
  index: number;
  term: number;
  data: Uint8Array;
}

export interface RaftReady {
  /** The engine's own Ready, handed back on advance. */
  raw: unknown;
  hardState?: RaftHardState;
  entries: RaftEntry[];
  snapshot?: RaftSnapshotMeta;
  messages: { to: string; bytes: Uint8Array }[];
  committed: RaftEntry[];
}

/** The consensus engine as the daemon drives it. */
export interface Raft {
  tick(): void;
  step(from: string, bytes: Uint8Array): void;
  /** Appends a block entry when leader; throws a coded error otherwise. */
  proposeBlock(data: Uint8Array): void;
  proposeMembership(change: { op: 'add' | 'remove' | 'promote'; node: string }): void;
  /** Reads a committed config entry (the engine takes the change itself on advance). */
  applyConfig(entry: RaftEntry): { op: string; node: string };
  /** Catch-up sync: entries a member served as committed (see RaftNode.acceptCommitted). */
  acceptCommitted(entries: RaftEntry[]): void;
  /** Erasure: a committed entry's data without the erased bodies (see RaftNode.redact). */
  redact(index: number, data: Uint8Array): void;
  transferLeadership(to: string): void;
  hasReady(): boolean;
  ready(): RaftReady;
  advance(ready: RaftReady): void;
  status(): {
    id: string;
    term: number;
    leader: string | null;
    role: RaftRole;
    commit: number;
    applied: number;
    voters: string[];
    learners: string[];
    /** Leader whose term no-op is applied: new blocks build on the applied chain. */
    canPropose: boolean;
    /** Per-follower match index when leader. */
    progress: Record<string, number>;
  };
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
  refreshMembership(): Promise<void>;
  stop(): Promise<void>;
}

export interface ChainHead {
  height: number;
  hash: Uint8Array;
  stateHash: Uint8Array;
  time: number;
  /** Raft index of the last applied entry. */
  applied: number;
}

export interface BlockCommit {
  blockBytes: Uint8Array;
  hash: Uint8Array;
  height: number;
  stateHash: Uint8Array;
  time: number;
  receipts: unknown[];
  writes: WriteSet;
  payloads: Map<string, Uint8Array>;
  erased: string[];
  raftIndex: number;
  /** Log entries rewritten without erased bodies (same index, term, type). */
  redactions: RaftEntry[];
}

/** The node's LevelDB as the daemon uses it. */
export interface NodeStore {
  state: StateScanner;
  head(): ChainHead;
  saveRaft(entries: RaftEntry[], hardState: RaftHardState | undefined): Promise<void>;
  commitBlock(c: BlockCommit): Promise<void>;
  setApplied(raftIndex: number): Promise<void>;
  /** Consensus log entries from..to that the store holds. */
  raftEntries(from: number, to: number): Promise<RaftEntry[]>;
  blockByHeight(height: number): Promise<Uint8Array | undefined>;
  /** Where a committed transaction is and how it went (by hash). */
  receipt(
    txHash: Uint8Array,
  ): Promise<
    | { height: number; index: number; ok: boolean; code: string | null; message: string | null }
    | undefined
  >;
  payload(hashHex: string): Promise<Uint8Array | undefined>;
  /** Raft index of the entry that carried a payload's body. */
  payloadEntryIndex(hashHex: string): Promise<number | undefined>;
  close(): Promise<void>;
}
