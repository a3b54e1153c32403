/**
 * The gateway's one rate limiter: a token bucket per connection (an HTTP keep-alive socket or a
 * WebSocket), refilled at `rate` per second up to a burst of twice that. Both transports refuse
 * with the same JSON-RPC error, RATE_LIMITED's application code.
 */
import { appCode } from '@ehr/api';

export class TokenBucket {
  readonly rate: number;
  private tokens: number;
  private at: number;
  constructor(rate: number, now = Date.now()) {
    this.rate = rate;
    this.tokens = rate * 2;
    this.at = now;
  }

  /** Takes one token; false when none is left (the caller refuses the request). */
  take(now = Date.now()): boolean {
    this.tokens = Math.min(
      this.rate * 2,
      this.tokens + (Math.max(0, now - this.at) / 1000) * this.rate,
    );
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The JSON-RPC error response both transports send when a bucket is empty. */
export function rateLimitedResponse(rate: number, what: 'requests' | 'messages') {
  return {
    jsonrpc: '2.0' as const,
    id: null,
    error: {
      code: appCode('RATE_LIMITED'),
      message: `rate limit: at most ${rate} ${what} per second per connection`,
      data: { code: 'RATE_LIMITED' },
    },
  };
}
