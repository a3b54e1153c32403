/**
 * One account talking to one gateway: fetches the chain id and nonce, signs transactions and
 * reads, submits, and opens sealed bodies. Secret keys stay inside this object; role operations
 * (admin-ops.ts, patient-ops.ts, doctor-ops.ts) go through it.
 *
 * Round trips: in the common case a transaction costs one request (tx_submit). The session asks
 * for the account's nonce once and then counts its own transactions (committed and in flight);
 * whenever it cannot be sure (a refusal, a timeout, a lost response, another device of the same
 * account taking a nonce first: NONCE_USED), it forgets the count and asks again. What the
 * account alone can change (its consents) is remembered under the same count (ownState): if
 * this session's next transaction commits with the nonce it expected, no other transaction of
 * the account ran since that state was read, so the state was current; if another device got
 * in between, the transaction is refused (NONCE_USED) and is signed again after a fresh read.
 * What others change (hospitals: their admins) is remembered for directoryTtlMs (default 30 s),
 * and read again at once when it would refuse something (an inactive hospital, a missing
 * specialization) or when the ledger refused a transaction over it.
 */
import {
  EhrError,
  encodeTx,
  fromHex,
  publicKeyOf,
  signTxAsync,
  toHex,
  txHash,
  type ValueMap,
} from '@ehr/core';
import { RpcClient, type SubmitResult } from './client.ts';
import type { AccountInfo, TxOutcome } from './ehr-types.ts';
import { RpcError } from './errors.ts';
import { type ReadTarget, signRead } from './read-auth.ts';
import {
  type Content,
  decodeContent,
  encodeContent,
  openBody,
  rewrapKey,
  type SealedBody,
  sealForReadersAsync,
} from './sealing.ts';

export type SubmitMode = 'async' | 'sync' | 'commit';

/** One page of a list: its items and, unless the list ends here, the next page's cursor. */
export type Page<T> = { items: T[]; cursor?: string };
export type PageRequest = { limit?: number; cursor?: string };
/** The largest page a gateway serves (methods.ts says the same in the schema). */
export const MAX_PAGE_LIMIT = 1000;

/** A transaction's default deadline, from signing. */
export const DEFAULT_DEADLINE_MS = 120_000;

/** TX_TIMEOUT: the user is told whether, and until when, the transaction can still commit. */
function timedOut(kind: string, hash: string, waitedMs: number, expires: number): EhrError {
  return new EhrError(
    'TX_TIMEOUT',
    `${kind} ${hash.slice(0, 16)}… was accepted but not committed within ${waitedMs} ms. It can still commit until ${new Date(expires).toISOString()} (its deadline) and never after; check it with: ehr chain tx ${hash}`,
    { hash, kind, canCommitUntil: expires },
  );
}

export interface SessionOptions {
  /** tx_submit mode: commit (default) waits until the transaction is in a block. */
  mode?: SubmitMode;
  /** How long commit mode waits, ms (default 10000). */
  timeoutMs?: number;
  /**
   * Each transaction's deadline, ms from signing (default 120000): past it, it can never
   * commit, so a timeout becomes a final answer once the deadline passes.
   */
  deadlineMs?: number;
  /** A doctor's copy of their hospital's encryption secret key (opens what the hospital may read). */
  hospitalSecretKey?: Uint8Array;
  /**
   * How long directory entries (hospitals and their encryption keys) are remembered, ms
   * (default 30000; 0: read them for every transaction). A hospital's key rotation reaches
   * this session's sealing within this time.
   */
  directoryTtlMs?: number;
}

/** A transaction's payload and sealed bodies. */
export interface Built {
  payload: ValueMap;
  bodies: Uint8Array[];
}

/** Builds a payload for one signing attempt (see Session.submit). */
export type PayloadBuilder = () => Promise<Built>;

/** Default of SessionOptions.directoryTtlMs. */
export const DEFAULT_DIRECTORY_TTL_MS = 30_000;

/** Refusals after which the nonce count is not trusted: ask the chain again. */
const NONCE_CODES = new Set(['NONCE_USED', 'NONCE_PENDING', 'BAD_NONCE']);

/** Whose key opens a body: the account's own, or the hospital's encryption key. */
export type Opener = 'account' | 'hospital';

/** Parses hex from the gateway, naming the field if it is not hex. */
export function hexBytes(v: unknown, field: string): Uint8Array {
  if (typeof v !== 'string' || !/^([0-9a-f]{2})*$/.test(v)) {
    throw new EhrError('BAD_RESPONSE', `the gateway sent ${field} that is not hex`, { field });
  }
  return fromHex(v);
}

/** The EhrError code carried by an RpcError (data.code), if any. */
export function rpcErrorCode(err: unknown): string | undefined {
  if (!(err instanceof RpcError)) return undefined;
  const d = err.data as { code?: unknown } | undefined;
  return typeof d?.code === 'string' ? d.code : undefined;
}

export class Session {
  readonly rpc: RpcClient;
  readonly publicKey: Uint8Array;
  /** This account's public key, hex. */
  readonly key: string;
  readonly mode: SubmitMode;
  readonly timeoutMs: number;
  readonly deadlineMs: number;
  readonly directoryTtlMs: number;
  readonly #secretKey: Uint8Array;
  readonly #hospitalSecretKey: Uint8Array | undefined;
  #readTarget: ReadTarget | undefined;
  /** Next nonce this session will use, once known (covers its own transactions in flight). */
  #nextNonce: number | undefined;
  #nonceFetch: Promise<number> | undefined;
  /** Bumped each time the nonce count is forgotten; ownState read under an older one is dropped. */
  #epoch = 0;
  #own = new Map<string, unknown>();
  #directory = new Map<string, { value: unknown; at: number }>();

  constructor(rpc: RpcClient | string, secretKey: Uint8Array, opts: SessionOptions = {}) {
    this.rpc = typeof rpc === 'string' ? new RpcClient(rpc) : rpc;
    this.#secretKey = secretKey;
    this.#hospitalSecretKey = opts.hospitalSecretKey;
    this.publicKey = publicKeyOf(secretKey);
    this.key = toHex(this.publicKey);
    this.mode = opts.mode ?? 'commit';
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.directoryTtlMs = opts.directoryTtlMs ?? DEFAULT_DIRECTORY_TTL_MS;
  }

  /** Learns the next nonce from the chain unless the count is known (one request at a time). */
  async #knowNonce(): Promise<void> {
    while (this.#nextNonce === undefined) {
      const epoch = this.#epoch;
      this.#nonceFetch ??= this.account()
        .then((a) => a.nonce)
        .finally(() => {
          this.#nonceFetch = undefined;
        });
      const n = await this.#nonceFetch;
      // Forgotten while asking: the answer may predate what made us forget; ask again.
      if (this.#nextNonce === undefined && epoch === this.#epoch) this.#nextNonce = n;
    }
  }

  /** Forgets the nonce count and everything remembered under it. */
  #forgetNonce(): void {
    this.#nextNonce = undefined;
    this.#epoch++;
    this.#own.clear();
  }

  /**
   * State only this account's own transactions change (say its consents), remembered while the
   * nonce count holds (see the top of this file). The nonce is known before `load` runs, so what
   * `load` reads includes every transaction before that nonce.
   */
  async ownState<T>(name: string, load: () => Promise<T>): Promise<T> {
    if (this.#own.has(name)) return this.#own.get(name) as T;
    await this.#knowNonce();
    const epoch = this.#epoch;
    const v = await load();
    if (epoch === this.#epoch) this.#own.set(name, v);
    return v;
  }

  /** Drops remembered own state (the session is about to change it, or did). */
  forgetOwnState(name: string): void {
    this.#own.delete(name);
  }

  /** A directory entry (public, changed by others), remembered for directoryTtlMs. */
  async directoryEntry<T>(name: string, load: () => Promise<T>, fresh = false): Promise<T> {
    const hit = this.#directory.get(name);
    if (!fresh && hit && Date.now() - hit.at < this.directoryTtlMs) return hit.value as T;
    const at = Date.now();
    const value = await load();
    if (this.directoryTtlMs > 0) this.#directory.set(name, { value, at });
    return value;
  }

  forgetDirectoryEntry(name: string): void {
    this.#directory.delete(name);
  }

  /** The public key of the hospital secret this session holds, if any. */
  get hospitalKey(): string | undefined {
    return this.#hospitalSecretKey ? toHex(publicKeyOf(this.#hospitalSecretKey)) : undefined;
  }

  call<T>(method: string, params?: Record<string, unknown>): Promise<T> {
    return this.rpc.call<T>(method, params);
  }

  async chainId(): Promise<string> {
    return (await this.#target()).chainId;
  }

  /** The chain and node this session's gateway serves (asked once). */
  async #target(): Promise<ReadTarget> {
    if (!this.#readTarget) {
      const st = await this.rpc.status();
      this.#readTarget = { chainId: st.chainId, node: st.nodeId };
    }
    return this.#readTarget;
  }

  account(key = this.key): Promise<AccountInfo> {
    return this.call<AccountInfo>('account_get', { key });
  }

  /** A signed read: the gateway checks the signature, freshness and nonce before serving. */
  async read<T>(method: string, params: Record<string, unknown>): Promise<T> {
    return this.call<T>(method, signRead(await this.#target(), method, params, this.#secretKey));
  }

  /**
   * One page of a list method: `{ items, cursor? }`. `signed` lists (a patient's or doctor's)
   * sign each page's read, as the gateway requires of every page.
   */
  page<T>(
    method: string,
    params: Record<string, unknown>,
    opts: PageRequest = {},
    signed = false,
  ): Promise<Page<T>> {
    const p = {
      ...params,
      ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      ...(opts.cursor !== undefined ? { cursor: opts.cursor } : {}),
    };
    return signed ? this.read<Page<T>>(method, p) : this.call<Page<T>>(method, p);
  }

  /**
   * Every item of a list method (up to `max`), page by page, following the cursors: pages of up
   * to MAX_PAGE_LIMIT items, so a long list is many short requests, never one unbounded answer.
   */
  async all<T>(
    method: string,
    params: Record<string, unknown>,
    signed = false,
    max = Number.POSITIVE_INFINITY,
  ): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    do {
      const limit = Math.min(MAX_PAGE_LIMIT, Math.max(1, max - out.length));
      const pg = await this.page<T>(
        method,
        params,
        { limit, ...(cursor ? { cursor } : {}) },
        signed,
      );
      out.push(...pg.items);
      cursor = pg.cursor;
    } while (cursor !== undefined && out.length < max);
    return out.length > max ? out.slice(0, max) : out;
  }

  /**
   * Signs `kind`/`payload` with the next nonce and a deadline, and submits it with its sealed
   * bodies. The nonce is the chain's committed one plus this session's own transactions still
   * in flight (never what a node holds pending: that may never commit). If another transaction
   * of this account takes the nonce first (say one that timed out earlier and committed after
   * all), this one is signed again with the next nonce, so what the user did last lands last.
   *
   * `payload` may be a builder, called for each attempt after the nonce is known: a payload
   * that depends on ownState (a report's readers depend on the consents) is built again from a
   * fresh read when another device of the account got in first.
   */
  async submit(
    kind: string,
    payload: ValueMap | PayloadBuilder,
    bodies: Uint8Array[] = [],
  ): Promise<TxOutcome> {
    const build: PayloadBuilder =
      typeof payload === 'function' ? payload : async () => ({ payload, bodies });
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#submitOnce(kind, build);
      } catch (err) {
        const code = err instanceof EhrError ? err.code : undefined;
        if (attempt < 4 && (code === 'NONCE_USED' || code === 'NONCE_PENDING')) {
          // The count was forgotten (#submitOnce): the next attempt asks the chain again.
          // NONCE_PENDING: a node still holds another transaction for that slot with a later
          // deadline; give it a moment to commit or lose.
          if (code === 'NONCE_PENDING') await new Promise((r) => setTimeout(r, 250 * attempt));
          continue;
        }
        throw err;
      }
    }
  }

  async #submitOnce(kind: string, build: PayloadBuilder): Promise<TxOutcome> {
    const chainId = await this.chainId();
    let built: Built | undefined;
    let nonce = -1;
    let epoch = -1;
    // The payload is built knowing the nonce; the nonce is taken only once it is built (a
    // builder that throws leaves no gap), and only if the count held meanwhile (else rebuilt).
    for (let round = 0; built === undefined; round++) {
      await this.#knowNonce();
      epoch = this.#epoch;
      const b = await build();
      if (this.#nextNonce === undefined || (epoch !== this.#epoch && round < 3)) continue;
      epoch = this.#epoch;
      nonce = this.#nextNonce++;
      built = b;
    }
    const { payload, bodies } = built;
    /** Forgets the count unless it was already forgotten (and maybe re-learned) meanwhile. */
    const forget = () => {
      if (epoch === this.#epoch) this.#forgetNonce();
    };
    const expires = Date.now() + this.deadlineMs;
    const tx = encodeTx(
      await signTxAsync(
        { chainId, author: this.publicKey, nonce, kind, payload, expires },
        this.#secretKey,
      ),
    );
    const hash = toHex(txHash(tx));
    let res: SubmitResult;
    try {
      res = await this.rpc.submitEncoded(tx, {
        mode: this.mode,
        payloads: bodies,
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      const code = rpcErrorCode(err);
      // Not counted as in flight whatever happened (a timeout, a refusal, a lost response): the
      // next transaction takes the committed nonce, so it either replaces this one or, if this
      // one commits first, is signed again after it. NONCE_USED: another device of this account
      // (or an earlier transaction that timed out) took it; BAD_NONCE: an earlier async submit
      // was dropped; NONCE_PENDING: a pending one holds it.
      forget();
      if (code === 'TX_TIMEOUT') throw timedOut(kind, hash, this.timeoutMs, expires);
      // Refused at admission (shape, signature, mempool): report it like a rule rejection.
      if (code !== undefined && err instanceof RpcError) {
        throw new EhrError(code, `${kind} rejected: ${err.message}`, { hash, kind });
      }
      throw err;
    }
    const s = res.status;
    if (s.status === 'rejected' || s.status === 'expired' || (s.status === 'committed' && !s.ok)) {
      const code = s.status === 'committed' ? (s.code ?? 'REJECTED') : s.code;
      const message = s.message ?? '';
      // Committed (refused by the rules) uses the nonce: the count holds. Otherwise it does not.
      if (s.status !== 'committed' || NONCE_CODES.has(code)) forget();
      const until =
        !s.final && s.canCommitUntil !== undefined
          ? ` (this node refused it; the signed transaction stays valid until ${new Date(s.canCommitUntil).toISOString()})`
          : '';
      throw new EhrError(code, `${kind} rejected: ${message || code}${until}`, {
        hash,
        kind,
        final: s.final,
      });
    }
    if (s.status === 'committed') {
      return { hash, kind, status: 'committed', height: s.height, index: s.index };
    }
    if (this.mode === 'commit') {
      forget();
      throw timedOut(kind, hash, this.timeoutMs, expires);
    }
    return { hash, kind, status: 'pending', expires };
  }

  /** Seals for the readers (Web Crypto's X25519 in a browser that has it; node:crypto in Node). */
  seal(content: Content, readers: Uint8Array[]): Promise<SealedBody> {
    return sealForReadersAsync(encodeContent(content), readers);
  }

  /** Opens a body the gateway served (hex) with the wrapped key it served alongside (hex). */
  open(bodyHex: unknown, wrappedKeyHex: unknown, opener: Opener, what: string): Content {
    if (wrappedKeyHex === null || wrappedKeyHex === undefined) {
      throw new EhrError(
        'KEY_MISSING',
        `${what}: you may read it, but no data key is wrapped for ${opener === 'hospital' ? 'your hospital' : 'you'} yet (the patient can share it again)`,
        {},
      );
    }
    const secret = this.#secret(opener);
    return decodeContent(
      openBody(hexBytes(bodyHex, 'body'), hexBytes(wrappedKeyHex, 'wrappedKey'), secret),
    );
  }

  /** Wraps the data key under `wrappedKeyHex` (openable by `opener`) for `recipient`. */
  rewrap(wrappedKeyHex: string, recipient: Uint8Array, opener: Opener = 'account'): Uint8Array {
    return rewrapKey(hexBytes(wrappedKeyHex, 'wrapped key'), this.#secret(opener), recipient);
  }

  /** Fails before a read is served (and audited) that this session could not open. */
  requireHospitalKey(): string {
    const k = this.hospitalKey;
    if (k === undefined) this.#secret('hospital');
    return k!;
  }

  #secret(opener: Opener): Uint8Array {
    if (opener === 'account') return this.#secretKey;
    if (!this.#hospitalSecretKey) {
      throw new EhrError(
        'HOSPITAL_KEY_REQUIRED',
        "opening this needs your hospital's encryption key (ask your hospital for it; CLI: --hospital-key <file>)",
        {},
      );
    }
    return this.#hospitalSecretKey;
  }
}
