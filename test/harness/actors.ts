/**
 * People of the e2e story, each with their own key: what a client does with only @ehr/core and
 * JSON-RPC (sign transactions, seal bodies for readers, sign reads, open what comes back).
 * Deliberately independent of the higher-level client, so the gateway is tested on its own.
 */
import { type RpcClient, signRead } from '@ehr/api';
import {
  decodeSealed,
  decodeWrappedKey,
  encodeSealed,
  encodeTx,
  encodeWrappedKey,
  fromHex,
  generateSecretKey,
  openWithDataKey,
  publicKeyOf,
  seal,
  sha256,
  signTx,
  toHex,
  unwrapDataKey,
  utf8,
  type Value,
} from '@ehr/core';

export interface Sealed {
  body: Uint8Array;
  /** Wrapped data keys, one per reader, in the order given. */
  keys: Uint8Array[];
  ref: { payloadHash: Uint8Array; payloadSize: number };
}

export function sealFor(text: string, readers: Uint8Array[]): Sealed {
  const sealed = seal(utf8(text), readers);
  const body = encodeSealed(sealed);
  return {
    body,
    keys: sealed.keys.map(encodeWrappedKey),
    ref: { payloadHash: sha256(body), payloadSize: body.length },
  };
}

export function openBody(bodyHex: string, wrappedKeyHex: string, secret: Uint8Array): string {
  const dataKey = unwrapDataKey(decodeWrappedKey(fromHex(wrappedKeyHex)), secret);
  return new TextDecoder().decode(openWithDataKey(decodeSealed(fromHex(bodyHex)), dataKey));
}

export class Actor {
  readonly secret: Uint8Array;
  readonly key: Uint8Array;
  readonly hex: string;
  private readonly rpc: RpcClient;
  private readonly chainId: string;
  readonly name: string;
  private nonce = 0;

  constructor(name: string, rpc: RpcClient, chainId: string, secret = generateSecretKey()) {
    this.name = name;
    this.rpc = rpc;
    this.chainId = chainId;
    this.secret = secret;
    this.key = publicKeyOf(secret);
    this.hex = toHex(this.key);
  }

  /** Signs and submits; resolves with the committed receipt (throws on rejection). */
  async send(
    kind: string,
    payload: Record<string, Value>,
    payloads: Uint8Array[] = [],
  ): Promise<{ hash: string; height: number }> {
    const { nonce } = await this.rpc.call<{ nonce: number }>('account_get', { key: this.hex });
    this.nonce = Math.max(this.nonce, nonce);
    const tx = encodeTx(
      signTx(
        {
          chainId: this.chainId,
          author: this.key,
          nonce: this.nonce,
          kind,
          payload,
          expires: Date.now() + 120_000,
        },
        this.secret,
      ),
    );
    const r = await this.rpc.submitEncoded(tx, { mode: 'commit', payloads, timeoutMs: 15_000 });
    if (r.status.status !== 'committed' || !r.status.ok) {
      throw new Error(`${this.name}: ${kind} not applied: ${JSON.stringify(r.status)}`);
    }
    this.nonce++;
    return { hash: r.hash, height: r.status.height };
  }

  /** Signs up as a patient with a profile sealed for this account alone. */
  async signUp(profileText: string): Promise<Sealed> {
    const profile = sealFor(profileText, [this.key]);
    await this.send(
      'patient.register',
      {
        profileHash: profile.ref.payloadHash,
        profileSize: profile.ref.payloadSize,
        profileKey: profile.keys[0]!,
      },
      [profile.body],
    );
    return profile;
  }

  /** Submits a report sealed for this patient and the hospital's encryption key. */
  async submitReport(
    hospital: string,
    specialization: string,
    text: string,
    hospitalKey: Uint8Array,
  ): Promise<{ id: string; sealed: Sealed }> {
    const sealed = sealFor(text, [this.key, hospitalKey]);
    const { hash } = await this.send(
      'record.submit',
      {
        hospital,
        specialization,
        ...sealed.ref,
        patientKey: sealed.keys[0]!,
        hospitalKeys: { [hospital]: sealed.keys[1]! },
      },
      [sealed.body],
    );
    return { id: hash, sealed };
  }

  /** A signed read, for the node behind this actor's client (or `rpc`). */
  async read<T = unknown>(
    method: string,
    params: Record<string, unknown> = {},
    rpc = this.rpc,
  ): Promise<T> {
    const node = (await rpc.status()).nodeId;
    return rpc.call<T>(
      method,
      signRead({ chainId: this.chainId, node }, method, params, this.secret),
    );
  }

  /** Every item of a paged list method: one signed read per page, following the cursors. */
  async list<T = unknown>(
    method: string,
    params: Record<string, unknown> = {},
    rpc = this.rpc,
  ): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.read<{ items: T[]; cursor?: string }>(
        method,
        { ...params, ...(cursor ? { cursor } : {}) },
        rpc,
      );
      out.push(...page.items);
      cursor = page.cursor;
    } while (cursor !== undefined);
    return out;
  }
}
