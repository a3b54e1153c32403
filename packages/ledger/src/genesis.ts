/**
 * Genesis: the JSON document every node of a network starts from. Parsing validates every field
 * and names the first bad one. The genesis block (height 0) has no transactions; its state is
 * `genesisWrites`, its header commits to that state's hash, and its header hash is the prevHash
 * of block 1.
 *
 * {
 *   "chainId": "ehr-local",
 *   "genesisTime": "2025-01-01T00:00:00Z",          // or milliseconds since the epoch
 *   "admins": ["<64 hex: Ed25519 public key>", ...],  // at least one
 *   "validators": ["<64 hex: node public key>", ...], // at least one
 *   "observers": [],                                   // optional
 *   "governance": { "threshold": "majority" },        // optional; or a number of admins
 *   "limits": { "maxPayloadBytes": 65536, ... }        // optional; defaults below
 * }
 */
import {
  type BlockHeader,
  blockHash,
  EhrError,
  encode,
  merkleRoot,
  PUBLIC_KEY_LENGTH,
  sha256,
  toHex,
  type Value,
  ZERO_HASH,
} from '@ehr/core';
import { keys } from './keys.ts';
import type { ChainConfig, Limits, Threshold } from './model.ts';
import type { WriteSet } from './state.ts';
import { compareKeys } from './state.ts';
import { EMPTY_STATE_HASH, stateHashAfter } from './state-hash.ts';

export type Genesis = {
  chainId: string;
  /** Milliseconds since the epoch; the time of block 0. */
  genesisTime: number;
  admins: string[];
  validators: string[];
  observers: string[];
  governance: { threshold: Threshold };
  limits: Limits;
};

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxTxBytes: 64 * 1024,
  maxPayloadBytes: 256 * 1024,
  maxDocumentBytes: 8 * 1024 * 1024,
  maxTxsPerBlock: 2000,
  maxBlockBytes: 4 * 1024 * 1024,
  maxListItems: 256,
  maxWrappedKeyBytes: 256,
};

const LIMIT_RANGES: Record<keyof Limits, [min: number, max: number]> = {
  maxTxBytes: [1024, 16 * 1024 * 1024],
  maxPayloadBytes: [1, 64 * 1024 * 1024],
  maxDocumentBytes: [1, 1024 * 1024 * 1024],
  maxTxsPerBlock: [1, 1_000_000],
  maxBlockBytes: [1024, 1024 * 1024 * 1024],
  maxListItems: [1, 100_000],
  maxWrappedKeyBytes: [32, 64 * 1024],
};

export const CHAIN_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const HEX_KEY = /^[0-9a-f]{64}$/;

function fail(field: string, expected: string, got: unknown): never {
  let shown: string;
  try {
    shown = got === undefined ? 'nothing' : JSON.stringify(got);
  } catch {
    shown = String(got);
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  throw new EhrError('GENESIS_INVALID', `genesis: ${field}: expected ${expected}, got ${shown}`, {
    field,
    expected,
  });
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(field, 'an object', v);
  return v as Record<string, unknown>;
}

function known(o: Record<string, unknown>, prefix: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      fail(`${prefix}${k}`, `no such field (known: ${allowed.join(', ')})`, o[k]);
    }
  }
}

function keyList(v: unknown, field: string, minItems: number): string[] {
  if (v === undefined && minItems === 0) return [];
  if (!Array.isArray(v)) fail(field, 'an array of public keys (64 hex characters)', v);
  if (v.length < minItems) fail(field, `at least ${minItems} public key(s)`, v);
  const out: string[] = [];
  v.forEach((item, i) => {
    if (typeof item !== 'string' || !HEX_KEY.test(item.toLowerCase())) {
      fail(`${field}[${i}]`, 'an Ed25519 public key as 64 hex characters', item);
    }
    const key = item.toLowerCase();
    if (out.includes(key)) fail(`${field}[${i}]`, 'a key not already listed', item);
    out.push(key);
  });
  return out;
}

function parseTime(v: unknown): number {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) {
      fail('genesisTime', 'milliseconds since the epoch (integer >= 0)', v);
    }
    return v;
  }
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(v)) {
    const ms = Date.parse(v);
    if (Number.isSafeInteger(ms) && ms >= 0) return ms;
  }
  return fail('genesisTime', 'an ISO-8601 UTC time like "2025-01-01T00:00:00Z" or ms', v);
}

/** Validates a parsed genesis object; throws GENESIS_INVALID naming the first bad field. */
export function validateGenesis(input: unknown): Genesis {
  const g = obj(input, '(document)');
  known(g, '', [
    'chainId',
    'genesisTime',
    'admins',
    'validators',
    'observers',
    'governance',
    'limits',
  ]);
  const chainId = g['chainId'];
  if (typeof chainId !== 'string' || !CHAIN_ID_PATTERN.test(chainId)) {
    fail(
      'chainId',
      '1-64 characters of a-z, 0-9, ".", "_", "-" starting with a letter/digit',
      chainId,
    );
  }
  const genesisTime = parseTime(g['genesisTime']);
  const admins = keyList(g['admins'], 'admins', 1);
  const validators = keyList(g['validators'], 'validators', 1);
  const observers = keyList(g['observers'], 'observers', 0);
  observers.forEach((o, i) => {
    if (validators.includes(o)) fail(`observers[${i}]`, 'a node that is not also a validator', o);
  });

  let threshold: Threshold = 'majority';
  if (g['governance'] !== undefined) {
    const gov = obj(g['governance'], 'governance');
    known(gov, 'governance.', ['threshold']);
    const t = gov['threshold'];
    if (t !== undefined && t !== 'majority') {
      if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1 || t > admins.length) {
        fail(
          'governance.threshold',
          `"majority" or a number of approving admins from 1 to ${admins.length}`,
          t,
        );
      }
      threshold = t;
    }
  }

  const limits: Limits = { ...DEFAULT_LIMITS };
  if (g['limits'] !== undefined) {
    const l = obj(g['limits'], 'limits');
    const names = Object.keys(LIMIT_RANGES) as (keyof Limits)[];
    known(l, 'limits.', names);
    for (const name of names) {
      const v = l[name];
      if (v === undefined) continue;
      const [min, max] = LIMIT_RANGES[name];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
        fail(`limits.${name}`, `an integer from ${min} to ${max}`, v);
      }
      limits[name] = v;
    }
    if (limits.maxTxBytes > limits.maxBlockBytes) {
      fail(
        'limits.maxTxBytes',
        `at most limits.maxBlockBytes (${limits.maxBlockBytes})`,
        limits.maxTxBytes,
      );
    }
  }

  return {
    chainId,
    genesisTime,
    admins,
    validators,
    observers,
    governance: { threshold },
    limits,
  };
}

/** Parses genesis JSON text; `source` (a file name) prefixes error messages. */
export function parseGenesis(text: string, source?: string): Genesis {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new EhrError(
      'GENESIS_INVALID',
      `${source ?? 'genesis'}: not valid JSON: ${(err as Error).message}`,
      { source: source ?? null },
    );
  }
  try {
    return validateGenesis(parsed);
  } catch (err) {
    if (source && err instanceof EhrError) {
      throw new EhrError(err.code, `${source}: ${err.message}`, { ...err.data, source });
    }
    throw err;
  }
}

/** The canonical Value of a genesis document (what genesisHash hashes). */
export function genesisValue(g: Genesis): Value {
  return {
    chainId: g.chainId,
    genesisTime: g.genesisTime,
    admins: [...g.admins],
    validators: [...g.validators],
    observers: [...g.observers],
    governance: { threshold: g.governance.threshold },
    limits: { ...g.limits },
  };
}

/** JSON text for a genesis document (what parseGenesis reads back). */
export function genesisToJson(g: Genesis): string {
  return `${JSON.stringify(
    { ...g, genesisTime: new Date(g.genesisTime).toISOString() },
    null,
    2,
  )}\n`;
}

export function genesisHash(g: Genesis): Uint8Array {
  return sha256(encode(genesisValue(g)));
}

export function chainConfigOf(g: Genesis): ChainConfig {
  return {
    chainId: g.chainId,
    genesisHash: genesisHash(g),
    threshold: g.governance.threshold,
    limits: { ...g.limits },
  };
}

/** The state at height 0: chain config, head, admins and node membership. Key-ordered. */
export function genesisWrites(g: Genesis): WriteSet {
  const t = g.genesisTime;
  const writes: WriteSet = [
    [keys.chain(), chainConfigOf(g)],
    [keys.head(), { height: 0, time: t }],
    [keys.adminCount(), g.admins.length],
    [keys.validatorCount(), g.validators.length],
  ];
  for (const key of g.admins) writes.push([keys.admin(key), { key, since: t }]);
  for (const node of g.validators) {
    writes.push([keys.member(node), { node, role: 'validator', since: t }]);
  }
  for (const node of g.observers) {
    writes.push([keys.member(node), { node, role: 'observer', since: t }]);
  }
  return writes.sort((a, b) => compareKeys(a[0], b[0]));
}

export function genesisStateHash(g: Genesis): Uint8Array {
  return stateHashAfter(EMPTY_STATE_HASH, genesisWrites(g));
}

/** Header of block 0. Proposer is the zero key and there is no signature: genesis is given. */
export function genesisHeader(g: Genesis): BlockHeader {
  return {
    chainId: g.chainId,
    height: 0,
    prevHash: ZERO_HASH,
    term: 0,
    proposer: new Uint8Array(PUBLIC_KEY_LENGTH),
    time: g.genesisTime,
    txCount: 0,
    txRoot: merkleRoot([]),
    stateHash: genesisStateHash(g),
  };
}

/** Hash of the genesis header: the prevHash of block 1. */
export function genesisBlockHash(g: Genesis): Uint8Array {
  return blockHash(genesisHeader(g));
}

/** Convenience for tools and tests: a genesis document from keys, defaults elsewhere. */
export function makeGenesis(opts: {
  chainId: string;
  genesisTime: number;
  admins: Uint8Array[];
  validators: Uint8Array[];
  observers?: Uint8Array[];
  threshold?: Threshold;
  limits?: Partial<Limits>;
}): Genesis {
  return validateGenesis({
    chainId: opts.chainId,
    genesisTime: opts.genesisTime,
    admins: opts.admins.map(toHex),
    validators: opts.validators.map(toHex),
    observers: (opts.observers ?? []).map(toHex),
    governance: { threshold: opts.threshold ?? 'majority' },
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
  });
}
