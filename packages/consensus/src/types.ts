/** Shapes the engine shares with the node and the store. Node ids are hex Ed25519 public keys. */

/**
 * The largest term, log index and block height a message may carry (2^48, about 2.8e14: a
 * thousand elections or entries a second for 8,900 years). The engine's arithmetic on them (a
 * term + 1, an index + a batch length) stays far below 2^53, so it never loses precision and
 * every value it produces can be encoded. Decoding refuses anything beyond.
 */
export const MAX_LOG_POSITION = 2 ** 48;
export type EntryType = 'noop' | 'block' | 'config';

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: string | null;
  commit: number;
}

export interface Membership {
  voters: string[];
  learners: string[];
  /** Ids that were members once and were removed: never admitted again. */
  removed: string[];
}

export interface Snapshot {
  index: number;
  term: number;
  membership: Membership;
  /** Hash of the last block entry at or before `index` (what the next block must link to). */
  lastBlockHash: Uint8Array;
  /** Supplied by the node (e.g. the block height the snapshot point stands for). */
  data: Uint8Array;
}

export type Role = 'leader' | 'follower' | 'candidate' | 'precandidate';

export interface SoftState {
  leader: string | null;
  role: Role;
}

export interface Message {
  type:
    | 'prevote'
    | 'prevoteResp'
    | 'vote'
    | 'voteResp'
    | 'append'
    | 'appendResp'
    | 'snapshot'
    | 'timeoutNow';
  from: string;
  to: string;
  term: number;
  /** prevote/vote: candidate's last log position; append: position before `entries`. */
  index: number;
  logTerm: number;
  entries: Entry[];
  commit: number;
  /** Responses: rejected? */
  reject: boolean;
  /** appendResp on reject: where the leader should retry (fast backtracking). */
  hintIndex: number;
  hintTerm: number;
  /** vote requests sent by leadership transfer bypass the leader lease. */
  transfer: boolean;
  snapshot: Snapshot | null;
}

export interface Ready {
  hardState?: HardState;
  softState?: SoftState;
  /** Entries to append durably (replacing any from their first index on). */
  entries: Entry[];
  /** A snapshot to install before anything else (the node syncs to it). */
  snapshot?: Snapshot;
  /** Send only after `entries` and `hardState` are durable. */
  messages: Message[];
  /** Committed entries to apply, in order. */
  committed: Entry[];
}

/** Membership change carried by a config entry. */
export interface ConfChange {
  op: 'addLearner' | 'promote' | 'remove';
  node: string;
}

/** Checks a block entry on append (pure; injected so the engine stays free of block formats). */
export interface BlockVerifier {
  /** Returns a reason to refuse, or undefined. `prevHash` is the previous block entry's hash. */
  check(
    data: Uint8Array,
    ctx: { term: number; leader: string | null; prevHash: Uint8Array },
  ): string | undefined;
  hashOf(data: Uint8Array): Uint8Array;
}
