/**
 * The nonces of signed reads a node has accepted, remembered against replay for as long as a
 * request carrying them could still pass the freshness check (`lifetimeMs`, twice the allowed
 * clock skew), in memory of a fixed size per nonce whatever the request carried: 128 bits of
 * SHA-256 over reader and nonce as a 16-character string (finding two pairs that collide takes
 * about 2^64 work, and would only refuse one read as a replay) and an expiry in whole seconds
 * (a small integer). At most `max` are held (gateway.readNonces, about READ_NONCE_BYTES each): at
 * the bound a new one is refused with RATE_LIMITED until older ones expire, the memory never
 * grows past it.
 */
import { EhrError, sha256, utf8 } from '@ehr/core';

/**
 * Bytes one remembered nonce costs at most: the 16-character one-byte string (32 bytes), the
 * Map's entry (3 words) and its share of the Map's spare capacity just after it doubled.
 * Measured (test/read-nonces.test.ts): 69 at 200,000 on Node 24 x64; up to ~90 just after the
 * Map doubled.
 */
export const READ_NONCE_BYTES = 96;

/** Default of gateway.readNonces (about 96 MB at the bound). */
export const DEFAULT_READ_NONCES = 1_000_000;

/**
 * The fixed-size key of a reader's nonce: 16 bytes of SHA-256 as one flat 16-character string
 * (made in one call: a string built by `+=` would be a chain of pieces, three times the size).
 */
function nonceKey(reader: string, nonce: string): string {
  const d = sha256(utf8(`${reader}/${nonce}`));
  // biome-ignore format: the sixteen bytes, one argument each
  return String.fromCharCode(d[0]!, d[1]!, d[2]!, d[3]!, d[4]!, d[5]!, d[6]!, d[7]!, d[8]!, d[9]!, d[10]!, d[11]!, d[12]!, d[13]!, d[14]!, d[15]!);
}

export class ReadNonces {
  /** Nonce key to expiry, whole seconds after `epoch` (rounded up); insertion is expiry order. */
  private readonly seen = new Map<string, number>();
  private epoch: number | undefined;
  /** Nonces remembered at most. */
  readonly max: number;
  private readonly lifetimeMs: number;

  constructor(max: number, lifetimeMs: number) {
    this.max = max;
    this.lifetimeMs = lifetimeMs;
    if (!Number.isInteger(max) || max < 1)
      throw new EhrError(
        'READ_NONCES_OPTIONS',
        `nonces to remember must be a positive integer, got ${max}`,
      );
  }

  /** Nonces remembered now. */
  get size(): number {
    return this.seen.size;
  }

  /** Estimated bytes they hold (READ_NONCE_BYTES each). */
  get bytes(): number {
    return this.seen.size * READ_NONCE_BYTES;
  }

  /**
   * Remembers `reader`'s `nonce` at time `now` (ms, never decreasing), first forgetting those
   * expired; throws READ_REPLAYED when it is remembered already, RATE_LIMITED at the bound.
   */
  admit(reader: string, nonce: string, now: number): void {
    this.epoch ??= now;
    this.prune(now);
    const id = nonceKey(reader, nonce);
    if (this.seen.has(id)) {
      throw new EhrError('READ_REPLAYED', 'this signed read was already used: sign a new one', {
        nonce,
      });
    }
    if (this.seen.size >= this.max) {
      throw new EhrError(
        'RATE_LIMITED',
        `too many signed reads in the last ${this.lifetimeMs / 1000} s: this node remembers ${this.max} against replay (gateway.readNonces); try again shortly`,
        { remembered: this.seen.size, max: this.max },
      );
    }
    this.seen.set(id, Math.ceil((now + this.lifetimeMs - this.epoch) / 1000));
  }

  private prune(now: number): void {
    // Constant lifetime: insertion order is expiry order, so stop at the first live entry.
    const elapsed = (now - (this.epoch ?? now)) / 1000;
    for (const [id, expires] of this.seen) {
      if (expires > elapsed) break;
      this.seen.delete(id);
    }
  }
}
