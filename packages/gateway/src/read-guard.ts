/**
 * Checks signed reads (see @ehr/api read-auth.ts): made for this node, a fresh time, a nonce not
 * seen before from that reader, and a signature that verifies. Nonces are remembered for twice
 * the allowed skew, which is as long as a request carrying them could still pass the freshness
 * check; since a credential names its node, that memory (per node) is enough to make it good for
 * one read in the whole network.
 *
 * The nonces are held by ReadNonces (read-nonces.ts): a fixed size each, at most
 * gateway.readNonces of them; at the bound a signed read is refused with RATE_LIMITED.
 */
import { READ_MAX_SKEW_MS, type ReadAuth, readSigningBytes } from '@ehr/api';
import { EhrError, fromHex, verify } from '@ehr/core';
import { DEFAULT_READ_NONCES, ReadNonces } from './read-nonces.ts';

export interface ReadGuardOptions {
  now?: () => number;
  maxSkewMs?: number;
  /** Nonces remembered at most (gateway.readNonces). */
  maxRemembered?: number;
  /** Told the bytes the nonces hold (estimated) whenever their number changed. */
  onBytes?: (bytes: number) => void;
}

export class ReadGuard {
  private readonly chainId: string;
  private readonly nodeId: string;
  private readonly now: () => number;
  private readonly maxSkewMs: number;
  /** The nonces accepted, remembered against replay. */
  readonly nonces: ReadNonces;
  private readonly onBytes: ((bytes: number) => void) | undefined;

  constructor(chainId: string, nodeId: string, opts: ReadGuardOptions = {}) {
    this.chainId = chainId;
    this.nodeId = nodeId;
    this.now = opts.now ?? Date.now;
    this.maxSkewMs = opts.maxSkewMs ?? READ_MAX_SKEW_MS;
    this.nonces = new ReadNonces(opts.maxRemembered ?? DEFAULT_READ_NONCES, 2 * this.maxSkewMs);
    this.onBytes = opts.onBytes;
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
    const before = this.nonces.size;
    try {
      this.nonces.admit(auth.reader, auth.nonce, now);
    } finally {
      if (this.nonces.size !== before) this.onBytes?.(this.nonces.bytes);
    }
    return auth.reader;
  }
}
