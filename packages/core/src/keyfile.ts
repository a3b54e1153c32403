/**
 * Key files: one Ed25519 key per file, JSON, written with 0600 permissions. With a passphrase
 * the secret is encrypted (scrypt -> XChaCha20-Poly1305, the public key as associated data);
 * without one it is stored in the clear and marked so, for development networks.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes, scryptSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { equalBytes, fromHex, toHex } from './bytes.ts';
import { EhrError } from './errors.ts';
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

function derive(passphrase: string, salt: Uint8Array, s: ScryptParams): Uint8Array {
  return new Uint8Array(
    scryptSync(passphrase, salt, 32, {
      N: s.N,
      r: s.r,
      p: s.p,
      maxmem: 256 * s.N * s.r + 1024 * 1024,
    }),
  );
}

export function keyFileJson(
  pair: KeyPair,
  opts: { passphrase?: string; label?: string; dev?: boolean; scrypt?: ScryptParams } = {},
): string {
  let secret: Secret;
  if (opts.passphrase !== undefined) {
    if (opts.passphrase.length === 0) {
      throw new EhrError(
        'KEYFILE_BAD_PASSPHRASE',
        'an empty passphrase protects nothing; omit it instead',
        {},
      );
    }
    const s = opts.scrypt ?? DEFAULT_SCRYPT;
    const salt = new Uint8Array(randomBytes(16));
    const nonce = new Uint8Array(randomBytes(24));
    const ct = xchacha20poly1305(derive(opts.passphrase, salt, s), nonce, pair.publicKey).encrypt(
      pair.secretKey,
    );
    secret = {
      type: 'scrypt',
      ...s,
      salt: toHex(salt),
      nonce: toHex(nonce),
      ciphertext: toHex(ct),
    };
  } else {
    // Secure by default: a secret in the clear is only for development keys, marked so.
    if (!opts.dev) {
      throw new EhrError(
        'KEYFILE_UNPROTECTED',
        'a key file without a passphrase must be a development key (dev: true); give a passphrase to encrypt it',
        {},
      );
    }
    secret = { type: 'plain', key: toHex(pair.secretKey) };
  }
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

/** Writes a key file readable by its owner only; refuses to overwrite unless `overwrite`. */
export function saveKeyFile(
  path: string,
  pair: KeyPair,
  opts: {
    passphrase?: string;
    label?: string;
    dev?: boolean;
    scrypt?: ScryptParams;
    overwrite?: boolean;
  } = {},
): void {
  const text = keyFileJson(pair, opts);
  try {
    writeFileSync(path, text, {
      mode: 0o600,
      flag: opts.overwrite ? 'w' : 'wx',
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new EhrError('KEYFILE_EXISTS', `${path} already exists; refusing to overwrite a key`, {
        path,
      });
    }
    throw new EhrError('KEYFILE_WRITE_FAILED', `cannot write ${path}: ${(err as Error).message}`, {
      path,
    });
  }
}

function corrupt(path: string, what: string): EhrError {
  return new EhrError('KEYFILE_CORRUPT', `${path} is not a valid ehr-ledger key file: ${what}`, {
    path,
    what,
  });
}

export function parseKeyFile(
  text: string,
  path: string,
  passphrase?: string,
): KeyPair & { dev: boolean; label?: string } {
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
  const publicKey = fromHex(j.publicKey);
  let secretKey: Uint8Array;
  const s = j.secret;
  if (s?.type === 'plain') {
    if (typeof s.key !== 'string' || !/^[0-9a-f]{64}$/.test(s.key))
      throw corrupt(path, 'secret.key is not 64 hex characters');
    secretKey = fromHex(s.key);
  } else if (s?.type === 'scrypt') {
    if (passphrase === undefined) {
      throw new EhrError(
        'KEYFILE_NEEDS_PASSPHRASE',
        `${path} is encrypted: supply its passphrase`,
        { path },
      );
    }
    let key: Uint8Array;
    try {
      key = derive(passphrase, fromHex(s.salt), s);
    } catch (err) {
      throw corrupt(path, `bad scrypt parameters (${(err as Error).message})`);
    }
    try {
      secretKey = xchacha20poly1305(key, fromHex(s.nonce), publicKey).decrypt(
        fromHex(s.ciphertext),
      );
    } catch {
      throw new EhrError(
        'KEYFILE_BAD_PASSPHRASE',
        `wrong passphrase for ${path} (or the file was altered)`,
        { path },
      );
    }
  } else {
    throw corrupt(path, 'secret.type must be "plain" or "scrypt"');
  }
  if (!equalBytes(publicKeyOf(secretKey), publicKey))
    throw corrupt(path, 'the secret key does not match publicKey');
  return { secretKey, publicKey, dev: j.dev === true, ...(j.label ? { label: j.label } : {}) };
}

export function loadKeyFile(
  path: string,
  passphrase?: string,
): KeyPair & { dev: boolean; label?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EhrError(
      'KEYFILE_UNREADABLE',
      `cannot read key file ${path}: ${(err as Error).message}`,
      { path },
    );
  }
  return parseKeyFile(text, path, passphrase);
}
