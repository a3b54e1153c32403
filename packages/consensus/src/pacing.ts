/**
 * Block production pacing (pure): a leader proposes a block as soon as transactions are pending,
 * never an empty one, and keeps at most `maxInflight` uncommitted blocks in the pipeline.
 */
export interface PacingLimits {
  maxBlockTxs: number;
  maxBlockBytes: number;
  maxInflight: number;
}

export function shouldPropose(
  state: { isLeader: boolean; pendingTxs: number; inflightBlocks: number },
  limits: PacingLimits,
): boolean {
  return state.isLeader && state.pendingTxs > 0 && state.inflightBlocks < limits.maxInflight;
}

/** Takes as many of the pending sizes as fit one block (in order; stops at the first misfit). */
export function fillBlock(sizes: number[], limits: PacingLimits): number {
  let bytes = 0;
  let n = 0;
  for (const s of sizes) {
    if (n >= limits.maxBlockTxs || bytes + s > limits.maxBlockBytes) break;
    bytes += s;
    n++;
  }
  return n;
}
