/**
 * Keys kept in this browser: IndexedDB holds each key only as an encrypted key file (the same
 * format and scrypt KDF as `ehr keys new --passphrase-env`), never a secret in the clear. A key
 * is unlocked per session with its passphrase and forgotten on sign-out.
 */
import {
  generateKeyPair,
  type KeyPair,
  keyFileJsonAsync,
  keyFilePublicKey,
  parseKeyFileAsync,
} from '@ehr/core';
import { formError } from './messages.ts';

export interface StoredKey {
  /** Public key, hex (the record's id). */
  publicKey: string;
  label: string;
  /** The encrypted key file, as text. */
  keyFile: string;
  savedAt: number;
}

const DB = 'ehr-portal';
const STORE = 'keys';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'publicKey' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx<T>(
  mode: IDBTransactionMode,
  fn: (s: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const req = fn(db.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  } finally {
    db.close();
  }
}

export async function listKeys(): Promise<StoredKey[]> {
  const all = await tx<StoredKey[]>('readonly', (s) => s.getAll() as IDBRequest<StoredKey[]>);
  return all.sort((a, b) => a.savedAt - b.savedAt);
}

export function forgetKey(publicKey: string): Promise<undefined> {
  return tx('readwrite', (s) => s.delete(publicKey) as IDBRequest<undefined>);
}

async function store(k: StoredKey): Promise<void> {
  // Only encrypted key files are ever stored.
  if (!keyFilePublicKey(k.keyFile, k.label).encrypted)
    throw new Error('refusing to store a plain key');
  await tx('readwrite', (s) => s.put(k));
}

export function checkNewPassphrase(passphrase: string, confirm: string): void {
  if (passphrase.length < 8) {
    throw formError('Choose a passphrase of at least 8 characters.');
  }
  if (passphrase !== confirm)
    throw formError('The two passphrases differ. Type the same one twice.');
}

/** Makes a key pair here, encrypts it with the passphrase and keeps it in this browser. */
export async function createKey(
  label: string,
  passphrase: string,
  onProgress: (f: number) => void,
): Promise<{ stored: StoredKey; pair: KeyPair }> {
  if (label.trim() === '') throw formError('Give this key a name (for example your own name).');
  const pair = generateKeyPair();
  const keyFile = await keyFileJsonAsync(pair, { passphrase, label: label.trim(), onProgress });
  const stored = {
    publicKey: keyFilePublicKey(keyFile, label).publicKey,
    label: label.trim(),
    keyFile,
    savedAt: Date.now(),
  };
  await store(stored);
  return { stored, pair };
}

/**
 * Imports a key file made by the CLI (or another browser). An encrypted file is checked with its
 * passphrase and kept as it is; a plain (development) file is encrypted with `newPassphrase`.
 */
export async function importKey(
  name: string,
  text: string,
  passphrase: string,
  newPassphrase: string | undefined,
  onProgress: (f: number) => void,
): Promise<{ stored: StoredKey; pair: KeyPair }> {
  const info = keyFilePublicKey(text, name);
  const label = info.label ?? name.replace(/\.json$/i, '').replace(/\.key$/i, '');
  if (info.encrypted) {
    const pair = await parseKeyFileAsync(text, name, passphrase, onProgress);
    const stored = { publicKey: info.publicKey, label, keyFile: text, savedAt: Date.now() };
    await store(stored);
    return { stored, pair };
  }
  if (newPassphrase === undefined || newPassphrase.length < 8) {
    throw formError(
      'This key file is not protected by a passphrase. Choose one (at least 8 characters) to keep it encrypted in this browser.',
    );
  }
  const pair = await parseKeyFileAsync(text, name);
  const keyFile = await keyFileJsonAsync(pair, { passphrase: newPassphrase, label, onProgress });
  const stored = { publicKey: info.publicKey, label, keyFile, savedAt: Date.now() };
  await store(stored);
  return { stored, pair };
}

export function unlock(
  k: StoredKey,
  passphrase: string,
  onProgress: (f: number) => void,
): Promise<KeyPair> {
  return parseKeyFileAsync(k.keyFile, k.label, passphrase, onProgress);
}
