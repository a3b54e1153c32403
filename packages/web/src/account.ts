/**
 * The signed-in account: one unlocked key held in memory for this tab only (and a doctor's
 * hospital key, also in memory only). Signing out drops both; nothing unlocked is persisted.
 */
import { EhrClient } from '@ehr/api';
import { type KeyPair, publicKeyOf, toHex } from '@ehr/core';
import { signal } from '@preact/signals';
import { GATEWAY_URL } from './net.ts';

export interface Account {
  label: string;
  publicKey: string;
  client: EhrClient;
  /** The encrypted key file (for backups); never the secret in the clear. */
  keyFile: string;
}

/** Set right after a key was created here, until its owner downloads a backup or dismisses. */
export const needsBackup = signal(false);

export const account = signal<Account | null>(null);
let secret: Uint8Array | null = null;
let hospitalSecret: Uint8Array | null = null;
/** The loaded hospital key's public key (hex), for display. */
export const hospitalKey = signal<string | null>(null);

function build(): void {
  const a = account.value;
  if (!a || !secret) return;
  account.value = {
    ...a,
    client: new EhrClient(
      GATEWAY_URL,
      secret,
      hospitalSecret ? { hospitalSecretKey: hospitalSecret } : {},
    ),
  };
}

export function signIn(label: string, pair: KeyPair, keyFile: string, created = false): void {
  secret = pair.secretKey;
  hospitalSecret = null;
  hospitalKey.value = null;
  needsBackup.value = created;
  const publicKey = toHex(pair.publicKey);
  account.value = { label, publicKey, keyFile, client: new EhrClient(GATEWAY_URL, secret) };
}

export function loadHospitalKey(pair: KeyPair): void {
  hospitalSecret = pair.secretKey;
  hospitalKey.value = toHex(publicKeyOf(pair.secretKey));
  build();
}

export function signOut(): void {
  secret?.fill(0);
  hospitalSecret?.fill(0);
  secret = null;
  hospitalSecret = null;
  hospitalKey.value = null;
  needsBackup.value = false;
  account.value = null;
}
