/**
 * bench:client-crypto - what the typed client computes per sealed report, on this machine, with
 * noble (the browser fallback, and what Node ran before issue 16) and with the installed backends
 * (node:crypto on Node) side by side: X25519, Ed25519 signing and public keys, sealing 1 KiB for
 * a patient and a hospital, opening it, signing a transaction, and the whole report.
 * Prints a table (CPU µs per operation) and writes .bench/client-crypto.json.
 *   node packages/core/bench/client-crypto.bench.ts [--out file.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { scriptArgs } from '../../../scripts/args.ts';
import {
  asyncCryptoBackend,
  ephemeralShared,
  generateSecretKey,
  nobleX25519,
  open,
  publicKeyOf,
  publicKeyOfNoble,
  randomBytes,
  type SignatureBackend,
  seal,
  sha256,
  sign,
  signatureBackend,
  signNoble,
  signTx,
  useAsyncCryptoBackend,
  useSignatureBackend,
  useX25519Backend,
  verifyNoble,
  x25519Backend,
  x25519SharedSecret,
} from '../src/index.ts';
import { nativeX25519 } from '../src/seal-native.ts';
import { publicKeyNative, signNative, verifyNative } from '../src/signature-native.ts';

const { values } = scriptArgs(
  `
usage: node packages/core/bench/client-crypto.bench.ts [--out file]
  prints µs per operation of the client's crypto, noble beside node:crypto;
  writes .bench/client-crypto.json
  --out    where to write the JSON (default .bench/client-crypto.json)
  --help   this text`,
  { out: { type: 'string' } },
);
const out = (values as { out?: string }).out ?? '.bench/client-crypto.json';

/**
 * CPU time (user + system) per operation, µs: what the client takes from a shared machine, and
 * less disturbed than wall time when other processes load it.
 */
function usPerOp(fn: () => void, minCpuMs = 400): number {
  for (let i = 0; i < 20; i++) fn();
  let n = 0;
  const c0 = process.cpuUsage();
  let us = 0;
  while (us < minCpuMs * 1000) {
    for (let i = 0; i < 5; i++) fn();
    n += 5;
    const c = process.cpuUsage(c0);
    us = c.user + c.system;
  }
  return Math.round((us / n) * 10) / 10;
}

const nobleSig: SignatureBackend = {
  name: 'noble',
  sign: signNoble,
  publicKey: publicKeyOfNoble,
  verify: verifyNoble,
};
const nativeSig: SignatureBackend = {
  name: 'native',
  sign: signNative,
  publicKey: publicKeyNative,
  verify: verifyNative,
};
const nodeAsync = asyncCryptoBackend();

function use(which: 'noble' | 'native'): void {
  useSignatureBackend(which === 'noble' ? nobleSig : nativeSig);
  useX25519Backend(which === 'noble' ? nobleX25519 : nativeX25519);
  useAsyncCryptoBackend(which === 'noble' ? undefined : nodeAsync);
}

const patient = generateSecretKey();
const hospital = generateSecretKey();
const readers = [publicKeyOf(patient), publicKeyOf(hospital)];
const text = randomBytes(1024);
const msg = randomBytes(300);
const xs = randomBytes(32);
const xpub = x25519.getPublicKey(randomBytes(32));
const sealed = seal(text, readers);
const tx = {
  chainId: 'bench',
  author: readers[0]!,
  nonce: 7,
  kind: 'record.submit',
  payload: { hospital: 'city', specialization: 'cardiology', payloadHash: sha256(text) },
  expires: Date.now() + 60_000,
};

const ops: [string, () => void][] = [
  ['x25519 shared secret', () => x25519SharedSecret(xs, xpub)],
  ['x25519 ephemeral pair + shared secret', () => ephemeralShared(xpub)],
  ['ed25519 sign 300 B', () => sign(msg, patient)],
  ['ed25519 public key of a secret key', () => publicKeyOf(patient)],
  ['seal 1 KiB for patient + hospital', () => seal(text, readers)],
  ['open 1 KiB (hospital)', () => open(sealed, hospital)],
  ['sign a record.submit tx', () => signTx(tx, patient)],
  [
    'report: seal for 2 readers + sign tx',
    () => {
      seal(text, readers);
      signTx(tx, patient);
    },
  ],
];

interface Row {
  name: string;
  nobleUs: number;
  nativeUs: number;
  speedup: number;
}
const rows: Row[] = [];
console.log(`${'operation'.padEnd(40)} ${'noble µs'.padStart(10)} ${'native µs'.padStart(10)}  x`);
for (const [name, fn] of ops) {
  use('noble');
  const nobleUs = usPerOp(fn);
  use('native');
  const nativeUs = usPerOp(fn);
  const speedup = Math.round((nobleUs / nativeUs) * 10) / 10;
  rows.push({ name, nobleUs, nativeUs, speedup });
  console.log(
    `${name.padEnd(40)} ${nobleUs.toFixed(1).padStart(10)} ${nativeUs.toFixed(1).padStart(10)}  ${speedup}`,
  );
}
console.log(`\nbackends now: signature=${signatureBackend()} x25519=${x25519Backend()}`);
console.log('\n| operation (CPU µs/op) | noble | node:crypto | speed-up |\n|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${r.nobleUs} | ${r.nativeUs} | ${r.speedup}x |`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ when: new Date().toISOString(), node: process.version, rows }, null, 2)}\n`,
);
console.log(`\nwrote ${out}`);
