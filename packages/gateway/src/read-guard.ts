/**
 * Checks signed reads (see @ehr/api read-auth.ts): made for this node, a fresh time, a nonce not
 * seen before from that reader, and a signature that verifies. Nonces are remembered for twice
 * the allowed skew, which is as long as a request carrying them could still pass the freshness
 * check; since a credential names its node, that memory (per node) is enough to make it good for
 * one read in the whole network.
 */
import { READ_MAX_SKEW_MS, type ReadAuth, readSigningBytes } from '@ehr/api';
import { EhrError, fromHex, verify } from '@ehr/core';

export class ReadGuard {
  private readonly chainId: string;
  private readonly nodeId: string;
  private readonly now: () => number;
  private readonly maxSkewMs: number;
  private readonly seen = new Map<string, number>();
  private readonly maxRemembered: number;

  constructor(
    chainId: string,
    nodeId: string,
    opts: { now?: () => number; maxSkewMs?: number; maxRemembered?: number } = {},
  ) {
    this.chainId = chainId;
    this.nodeId = nodeId;
    this.now = opts.now ?? Date.now;
    this.maxSkewMs = opts.maxSkewMs ?? READ_MAX_SKEW_MS;
    this.maxRemembered = opts.maxRemembered ?? 1_000_000;
  }

  /** Returns the authenticated reader (hex) or throws a coded error saying what was wrong. */
  check(method: string, params: Record<string, unknown>): string {
    const auth = params['auth'] as ReadAuth;
    if (auth.node !== this.nodeId) {
      throw new EhrError(
        'READ_WRONG_NODE',
        `this signed read is for node ${auth.node.slice(0, 12)}…, not this one (${this.nodeId.slice(0, 12)}…): sign it for the node you send it to`,
        { node: auth.node, self: this.nodeId },
      );
    }
    const now = this.now();
    if (Math.abs(now - auth.time) > this.maxSkewMs) {
      throw new EhrError(
        'READ_STALE',
        `signed read is ${Math.round((now - auth.time) / 1000)} s off this node's clock; the limit is ${this.maxSkewMs / 1000} s: sign it again (and check the clock)`,
        { time: auth.time, now, maxSkewMs: this.maxSkewMs },
      );
    }
    const sig = fromHex(auth.signature);
    const msg = readSigningBytes(
      { chainId: this.chainId, node: this.nodeId },
      method,
      params,
      auth.time,
      auth.nonce,
    );
    if (!verify(sig, msg, fromHex(auth.reader))) {
      throw new EhrError(
        'BAD_SIGNATURE',
        `the read signature does not verify for reader ${auth.reader.slice(0, 12)}… (signed for another chain, method or params?)`,
        { reader: auth.reader, chainId: this.chainId },
      );
    }
    this.prune(now);
    const id = `${auth.reader}/${auth.nonce}`;
    if (this.seen.has(id)) {
      throw new EhrError('READ_REPLAYED', 'this signed read was already used: sign a new one', {
        nonce: auth.nonce,
      });
    }
    if (this.seen.size >= this.maxRemembered) {
      throw new EhrError('RATE_LIMITED', 'too many signed reads in flight; try again shortly', {});
    }
    this.seen.set(id, now + 2 * this.maxSkewMs);
    return auth.reader;
  }

  private prune(now: number): void {
    // Insertion order is expiry order (constant lifetime), so stop at the first live entry.
    for (const [id, expires] of this.seen) {
      if (expires > now) break;
      this.seen.delete(id);
    }
  }
}
