/**
 * Key files: one Ed25519 key per file, JSON. With a passphrase the secret is encrypted
 * (scrypt -> XChaCha20-Poly1305, the public key as associated data); without one it is stored in
 * the clear and marked so, for development networks. The format and KDF are the same in the CLI
 * and the browser portal: this module is browser-safe (scrypt from @noble/hashes; Node installs
 * its native scrypt, which computes the same bytes, from keyfile-fs.ts, which also holds the
 * functions that read and write files). The *Async variants yield while deriving and report
 * progress (for a browser's main thread).
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { scrypt, scryptAsync } from '@noble/hashes/scrypt.js';
import { equalBytes, fromHex, toHex } from './bytes.ts';
import { EhrError } from './errors.ts';
import { randomBytes } from './random.ts';
import { generateSecretKey, publicKeyOf } from './signature.ts';

export interface KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };

type Secret =
  | { type: 'plain'; key: string }
  | {
      type: 'scrypt';
      N: number;
      r: number;
      p: number;
      salt: string;
      nonce: string;
      ciphertext: string;
    };

interface KeyFileJson {
  format: 'ehr-ledger-key';
  version: 1;
  label?: string;
  /** True for development keys (e.g. a generated local network): never use in production. */
  dev?: boolean;
  publicKey: string;
  secret: Secret;
}

export function generateKeyPair(): KeyPair {
  const secretKey = generateSecretKey();
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}

/** scrypt to a 32-byte key; replaceable by a native implementation of the same function. */
export type ScryptFn = (passphrase: string, salt: Uint8Array, s: ScryptParams) => Uint8Array;

const MAX_SCRYPT_N = 2 ** 20;

function checkParams(s: ScryptParams): void {
  const ok = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (!ok(s.N) || !ok(s.r) || !ok(s.p) || s.N > MAX_SCRYPT_N || s.r * s.p >= 2 ** 30) {
    throw new Error(`N=${String(s.N)}, r=${String(s.r)}, p=${String(s.p)} are out of range`);
  }
}

let scryptImpl: ScryptFn = (passphrase, salt, s) =>
  scrypt(passphrase, salt, { N: s.N, r: s.r, p: s.p, dkLen: 32, maxmem: 2 ** 31 });

/** Node installs node:crypto's scrypt here (keyfile-fs.ts); the output is identical. */
export function useScrypt(fn: ScryptFn): void {
  scryptImpl = fn;
}

function derive(passphrase: string, salt: Uint8Array, s: ScryptParams): Uint8Array {
  checkParams(s);
  return scryptImpl(passphrase, salt, s);
}

async function deriveAsync(
  passphrase: string,
  salt: Uint8Array,
  s: ScryptParams,
  onProgress?: (fraction: number) => void,
): Promise<Uint8Array> {
  checkParams(s);
  return scryptAsync(passphrase, salt, {
    N: s.N,
    r: s.r,
    p: s.p,
    dkLen: 32,
    maxmem: 2 ** 31,
    asyncTick: 25,
    ...(onProgress ? { onProgress } : {}),
  });
}

export interface KeyFileOptions {
  passphrase?: string;
  label?: string;
  dev?: boolean;
  scrypt?: ScryptParams;
}

function checkPassphrase(passphrase: string): void {
  if (passphrase.length === 0) {
    throw new EhrError(
      'KEYFILE_BAD_PASSPHRASE',
      'an empty passphrase protects nothing; omit it instead',
      {},
    );
  }
}

function render(pair: KeyPair, opts: KeyFileOptions, secret: Secret): string {
  const json: KeyFileJson = {
    format: 'ehr-ledger-key',
    version: 1,
    ...(opts.label ? { label: opts.label } : {}),
    ...(opts.dev ? { dev: true } : {}),
    publicKey: toHex(pair.publicKey),
    secret,
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

function encrypted(pair: KeyPair, s: ScryptParams, salt: Uint8Array, key: Uint8Array): Secret {
  const nonce = randomBytes(24);
  const ct = xchacha20poly1305(key, nonce, pair.publicKey).encrypt(pair.secretKey);
  return {
    type: 'scrypt',
    N: s.N,
    r: s.r,
    p: s.p,
    salt: toHex(salt),
    nonce: toHex(nonce),
    ciphertext: toHex(ct),
  };
}

export function keyFileJson(pair: KeyPair, opts: KeyFileOptions = {}): string {
  if (opts.passphrase === undefined) {
    // Secure by default: a secret in the clear is only for development keys, marked so.
    if (!opts.dev) {
      throw new EhrError(
        'KEYFILE_UNPROTECTED',
        'a key file without a passphrase must be a development key (dev: true); give a passphrase to encrypt it',
        {},
      );
    }
    return render(pair, opts, { type: 'plain', key: toHex(pair.secretKey) });
  }
  checkPassphrase(opts.passphrase);
  const s = opts.scrypt ?? DEFAULT_SCRYPT;
  const salt = randomBytes(16);
  return render(pair, opts, encrypted(pair, s, salt, derive(opts.passphrase, salt, s)));
}

/** keyFileJson with a passphrase, deriving without blocking and reporting progress (0..1). */
export async function keyFileJsonAsync(
  pair: KeyPair,
  opts: KeyFileOptions & { passphrase: string; onProgress?: (fraction: number) => void },
): Promise<string> {
  checkPassphrase(opts.passphrase);
  const s = opts.scrypt ?? DEFAULT_SCRYPT;
  const salt = randomBytes(16);
  const key = await deriveAsync(opts.passphrase, salt, s, opts.onProgress);
  return render(pair, opts, encrypted(pair, s, salt, key));
}

function corrupt(path: string, what: string): EhrError {
  return new EhrError('KEYFILE_CORRUPT', `${path} is not a valid ehr-ledger key file: ${what}`, {
    path,
    what,
  });
}

export type ParsedKeyFile = KeyPair & { dev: boolean; label?: string };

/** Checks a key file's structure; returns it with its public key (secret not yet opened). */
function readStructure(text: string, path: string): { j: KeyFileJson; publicKey: Uint8Array } {
  let j: KeyFileJson;
  try {
    j = JSON.parse(text) as KeyFileJson;
  } catch {
    throw corrupt(path, 'not JSON');
  }
  if (j?.format !== 'ehr-ledger-key') throw corrupt(path, 'format is not "ehr-ledger-key"');
  if (j.version !== 1) throw corrupt(path, `unsupported version ${String(j.version)}`);
  if (typeof j.publicKey !== 'string' || !/^[0-9a-f]{64}$/.test(j.publicKey))
    throw corrupt(path, 'publicKey is not 64 hex characters');
  const s = j.secret;
  if (s?.type === 'plain') {
    if (typeof s.key !== 'string' || !/^[0-9a-f]{64}$/.test(s.key))
      throw corrupt(path, 'secret.key is not 64 hex characters');
  } else if (s?.type === 'scrypt') {
    for (const f of ['salt', 'nonce', 'ciphertext'] as const) {
      if (typeof s[f] !== 'string' || !/^([0-9a-f]{2})+$/.test(s[f]))
        throw corrupt(path, `secret.${f} is not hex`);
    }
  } else {
    throw corrupt(path, 'secret.type must be "plain" or "scrypt"');
  }
  return { j, publicKey: fromHex(j.publicKey) };
}

function needsPassphrase(path: string): EhrError {
  return new EhrError('KEYFILE_NEEDS_PASSPHRASE', `${path} is encrypted: supply its passphrase`, {
    path,
  });
}

function finish(
  j: KeyFileJson,
  publicKey: Uint8Array,
  path: string,
  key: Uint8Array | null,
): ParsedKeyFile {
  const s = j.secret;
  let secretKey: Uint8Array;
  if (s.type === 'plain') {
    secretKey = fromHex(s.key);
  } else {
    try {
      secretKey = xchacha20poly1305(key!, fromHex(s.nonce), publicKey).decrypt(
        fromHex(s.ciphertext),
      );
    } catch {
      throw new EhrError(
        'KEYFILE_BAD_PASSPHRASE',
        `wrong passphrase for ${path} (or the file was altered)`,
        { path },
      );
    }
  }
  if (!equalBytes(publicKeyOf(secretKey), publicKey))
    throw corrupt(path, 'the secret key does not match publicKey');
  return { secretKey, publicKey, dev: j.dev === true, ...(j.label ? { label: j.label } : {}) };
}

export function parseKeyFile(text: string, path: string, passphrase?: string): ParsedKeyFile {
  const { j, publicKey } = readStructure(text, path);
  let key: Uint8Array | null = null;
  if (j.secret.type === 'scrypt') {
    if (passphrase === undefined) throw needsPassphrase(path);
    try {
      key = derive(passphrase, fromHex(j.secret.salt), j.secret);
    } catch (err) {
      throw corrupt(path, `bad scrypt parameters (${(err as Error).message})`);
    }
  }
  return finish(j, publicKey, path, key);
}

/** parseKeyFile, deriving without blocking and reporting progress (0..1). */
export async function parseKeyFileAsync(
  text: string,
  path: string,
  passphrase?: string,
  onProgress?: (fraction: number) => void,
): Promise<ParsedKeyFile> {
  const { j, publicKey } = readStructure(text, path);
  let key: Uint8Array | null = null;
  if (j.secret.type === 'scrypt') {
    if (passphrase === undefined) throw needsPassphrase(path);
    try {
      key = await deriveAsync(passphrase, fromHex(j.secret.salt), j.secret, onProgress);
    } catch (err) {
      throw corrupt(path, `bad scrypt parameters (${(err as Error).message})`);
    }
  }
  return finish(j, publicKey, path, key);
}

/** The public key a key file names (hex), without opening it; throws KEYFILE_CORRUPT. */
export function keyFilePublicKey(
  text: string,
  path: string,
): { publicKey: string; encrypted: boolean; label?: string } {
  const { j } = readStructure(text, path);
  return {
    publicKey: j.publicKey,
    encrypted: j.secret.type === 'scrypt',
    ...(j.label ? { label: j.label } : {}),
  };
}
