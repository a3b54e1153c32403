/**
 * Byte limits on the wire, derived once from the genesis limits so that every layer holds the
 * same numbers: what the gateway accepts, what the mempool admits, what a block carries with its
 * bodies, what one consensus message, sync batch or gossip message may weigh, and what libp2p's
 * stream buffers take. Whatever the bodies weigh, a block with its bodies fits one frame, and a
 * transaction the gateway accepts fits a block on its own.
 */
import type { Limits } from './model.ts';

/** Room for what wraps the data: block header and signatures, message fields, encoding. */
export const ENVELOPE_BYTES = 64 * 1024;

export interface WireLimits {
  /** Body bytes one transaction may carry in total (its largest body: a document). */
  txBodyBytes: number;
  /**
   * Transaction bytes plus body bytes a leader puts in one block (transaction bytes alone stay
   * within limits.maxBlockBytes, a consensus rule): at least one largest transaction with the
   * largest body.
   */
  blockContentBytes: number;
  /** An encoded block entry (block and bodies) in the consensus log. */
  entryBytes: number;
  /**
   * Any one frame between members: a consensus message (its entries' data is capped at
   * entryBytes, at least one entry), a sync batch, a gossiped or forwarded transaction batch.
   * libp2p's stream read buffers are sized from it.
   */
  frameBytes: number;
  /** A gateway request body: one transaction and its bodies, in hex (the larger encoding). */
  requestBytes: number;
}

export function wireLimits(l: Limits): WireLimits {
  const txBodyBytes = Math.max(l.maxDocumentBytes, l.maxPayloadBytes);
  const blockContentBytes = Math.max(l.maxBlockBytes, l.maxTxBytes + txBodyBytes);
  const entryBytes = blockContentBytes + ENVELOPE_BYTES;
  return {
    txBodyBytes,
    blockContentBytes,
    entryBytes,
    frameBytes: entryBytes + ENVELOPE_BYTES,
    requestBytes: 2 * (l.maxTxBytes + txBodyBytes) + ENVELOPE_BYTES,
  };
}
