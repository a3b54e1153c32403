/**
 * What became of a transaction, and how a node reports catch-up sync: declared once for the node
 * that tracks them and the clients that read them (`tx_submit`, `tx_status`, `status`).
 */

/** A transaction's status as one node tracks it: pending, committed, rejected or expired. */
export type TxStatus =
  | {
      status: 'pending';
      /** Deadline (block time, ms): it can commit until then, never after. */
      expires?: number;
      /** A later transaction of the same account and nonce took its place in this mempool. */
      replacedBy?: string;
    }
  | {
      status: 'committed';
      height: number;
      index: number;
      /** False: refused by the rules, recorded in the block with its code; its nonce is used. */
      ok: boolean;
      code: string | null;
      message: string | null;
    }
  | {
      status: 'rejected';
      code: string;
      message: string;
      /**
       * Final: it can never commit (its nonce is used, or it can never pass the checks). Not
       * final: this node refused it and does not hold or relay it, but the signed transaction
       * stays valid until `expires` if someone submits it again.
       */
      final: boolean;
      expires?: number;
    }
  | { status: 'expired'; code: 'EXPIRED'; message: string; expires: number };

/**
 * A status as a node answers it, with whether it can still change. `final`: it cannot
 * (committed; rejected or expired for good). Otherwise it may still commit until
 * `canCommitUntil` (its deadline), never after.
 */
export type TxStatusView = TxStatus & {
  final: boolean;
  /** Pending or refused here but still valid: the latest block time it can commit at. */
  canCommitUntil?: number;
  /** Submitted again after it committed: the original's status. */
  duplicate?: true;
};

/** What `tx_submit` answers: the transaction's hash and its status. */
export interface SubmitResult {
  hash: string;
  status: TxStatusView;
}

/** Catch-up sync progress, shown in status while a sync runs and after the last one. */
export interface SyncStatus {
  active: boolean;
  /** Raft index and block height this sync fetches up to. */
  targetIndex: number;
  target: number;
  /** Raft index and block height applied so far. */
  index: number;
  height: number;
  /** Batches fetched and applied; batches applied per serving member (node id); refused per member. */
  batches: number;
  peers: Record<string, number>;
  refused: Record<string, number>;
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
}
