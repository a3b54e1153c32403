/**
 * Live events from a gateway over WebSocket (browsers and Node >= 22 alike: the global
 * WebSocket): new blocks, reconnecting with backoff when the connection drops. Notifications are
 * the gateway's `subscription` messages; nothing is signed or sent but the subscribe call.
 */
export interface BlockNotice {
  height: number;
  hash: string;
  time: number;
  txs: number;
}

export class GatewayEvents {
  readonly wsUrl: string;
  #socket: WebSocket | null = null;
  #listeners = new Set<(b: BlockNotice) => void>();
  #closed = false;
  #retryMs = 500;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** True while subscribed; false while (re)connecting. */
  connected = false;
  onConnection: ((connected: boolean) => void) | undefined;

  /** `url`: the gateway's HTTP(S) URL; ws(s) is derived from it. */
  constructor(url: string) {
    this.wsUrl = url.replace(/^http/, 'ws');
  }

  onBlock(fn: (b: BlockNotice) => void): () => void {
    this.#listeners.add(fn);
    if (!this.#socket && !this.#closed) this.#connect();
    return () => this.#listeners.delete(fn);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#socket?.close();
    this.#socket = null;
  }

  #setConnected(v: boolean): void {
    this.connected = v;
    this.onConnection?.(v);
  }

  #connect(): void {
    const ws = new WebSocket(this.wsUrl);
    this.#socket = ws;
    let subscription: string | null = null;
    ws.onopen = () => {
      ws.send(
        JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'blocks' } }),
      );
    };
    ws.onmessage = (ev: MessageEvent) => {
      let m: { id?: unknown; result?: unknown; method?: string; params?: Record<string, unknown> };
      try {
        m = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (m.id === 1 && typeof m.result === 'string') {
        subscription = m.result;
        this.#retryMs = 500;
        this.#setConnected(true);
        return;
      }
      if (m.method === 'subscription' && m.params?.['subscription'] === subscription) {
        const b = m.params['result'] as BlockNotice;
        for (const fn of this.#listeners) fn(b);
      }
    };
    ws.onclose = () => {
      this.#socket = null;
      this.#setConnected(false);
      if (this.#closed) return;
      this.#timer = setTimeout(() => this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 10_000);
    };
    ws.onerror = () => ws.close();
  }
}
