/**
 * A node's status as `status` serves it: declared once, for the node that assembles it and the
 * clients (CLI, portal) that read it.
 */
import type { SyncStatus } from './tx-status.ts';

/** The consensus loop right now (a stuck pass shows as a growing `busyMs`). */
export interface LoopStatus {
  stage: string;
  busyMs: number;
  inflightBlocks: number;
  /** Held by catch-up sync (no ticks, no consensus messages). */
  paused: boolean;
}

/** The background scrubber (full re-verification of the store at a configured pace). */
export interface ScrubStatus {
  enabled: boolean;
  /** Rounds started since the node started (a round walks the whole store). */
  round: number;
  phase: 'idle' | 'blocks' | 'state' | 'payloads' | 'failed';
  /** Last block verified in this round, of `target` (the head when the round began). */
  height: number;
  target: number;
  /** Bytes read in this round. */
  bytes: number;
  /** Share of the round done (0..1). */
  progress: number;
  /** Length of the last completed round, ms (null before one completed). */
  lastRoundMs: number | null;
  /** When the last round completed (ms since the epoch; null before one did). */
  lastCompletedAt: number | null;
  /** What the scrubber found wrong (the node halts): height, what, key and file. */
  failed: string | null;
}

export interface NodeStatus {
  name: string;
  nodeId: string;
  chainId: string;
  role: 'leader' | 'follower' | 'candidate' | 'precandidate' | 'learner';
  term: number;
  leader: string | null;
  height: number;
  hash: string;
  stateHash: string;
  /** Block time of the last block (ms). */
  time: number;
  /** A catch-up sync runs, applying trails the commit index, or the leader announced far ahead. */
  catchingUp: boolean;
  /** The highest block height a leader announced (or this node's height, if higher). */
  networkHeight: number;
  commitIndex: number;
  /** The current or last catch-up sync (null when none ran since start). */
  sync: SyncStatus | null;
  peers: number;
  validators: string[];
  observers: string[];
  mempool: { txs: number; bytes: number };
  /** Why the consensus loop stopped (null while it runs). */
  halted: string | null;
  loop: LoopStatus;
  /** The consensus log on disk: compacted to `compactedIndex`, holding first..last after it. */
  log: LogStatus;
  /** The background scrubber (absent from nodes that do not run one). */
  scrub?: ScrubStatus;
}

/** The consensus log as stored (compaction keeps a tail; blocks stay in the block store). */
export interface LogStatus {
  /** Entries at or below it were dropped from the log (served from the block store). */
  compactedIndex: number;
  firstIndex: number;
  lastIndex: number;
  /** Height the block store last made durable (the log is compacted only below it). */
  durableHeight: number;
}
