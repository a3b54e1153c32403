/**
 * bench:client-crypto - what the typed client computes per sealed report, on this machine:
 * X25519 (noble vs the installed backend), the Ed25519 -> X25519 key conversion, sealing 1 KB
 * for a patient and a hospital, opening it, signing a transaction, deriving a public key.
 * Prints a table (µs per operation) and writes .bench/client-crypto.json.
 *   node packages/core/bench/client-crypto.bench.ts [--out file.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import * as core from '../src/index.ts';
import { scriptArgs } from '../../../scripts/args.ts';

const { values } = scriptArgs(
  `
usage: node packages/core/bench/client-crypto.bench.ts [--out file]
  prints µs per operation of the client's crypto; writes .bench/client-crypto.json
  --out    where to write the JSON (default .bench/client-crypto.json)
  --help   this text`,
  { out: { type: 'string' } },
);
const out = (values as { out?: string }).out ?? '.bench/client-crypto.json';

interface Row {
  name: string;
  usPerOp: number;
  opsPerSec: number;
}

function measure(name: string, fn: () => void, minMs = 600): Row {
  for (let i = 0; i < 30; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    for (let i = 0; i < 10; i++) fn();
    n += 10;
    t = performance.now();
  }
  const usPerOp = ((t - t0) * 1000) / n;
  const row = {
    name,
    usPerOp: Math.round(usPerOp * 10) / 10,
    opsPerSec: Math.round(1e6 / usPerOp),
  };
  console.log(
    `${name.padEnd(44)} ${row.usPerOp.toFixed(1).padStart(9)} µs ${String(row.opsPerSec).padStart(8)} ops/s`,
  );
  return row;
}

const c = core as unknown as Record<string, unknown>;
const backends = {
  signature: core.signatureBackend(),
  x25519:
    typeof c['x25519Backend'] === 'function' ? (c['x25519Backend'] as () => string)() : 'noble',
};
console.log(`backends: signature=${backends.signature} x25519=${backends.x25519}\n`);

const patient = core.generateSecretKey();
const hospital = core.generateSecretKey();
const readers = [core.publicKeyOf(patient), core.publicKeyOf(hospital)];
const text = core.randomBytes(1024);
const msg = core.randomBytes(300);
const xs = x25519.utils.randomSecretKey();
const xpub = x25519.getPublicKey(x25519.utils.randomSecretKey());
const sealed = core.seal(text, readers);
const tx = {
  chainId: 'bench',
  author: readers[0]!,
  nonce: 7,
  kind: 'record.submit',
  payload: { hospital: 'city', specialization: 'cardiology', payloadHash: core.sha256(text) },
  expires: Date.now() + 60_000,
};

const results: Row[] = [
  measure('x25519 shared secret (noble)', () => x25519.getSharedSecret(xs, xpub)),
  measure('ed25519 -> x25519 public key (noble)', () => ed25519.utils.toMontgomery(readers[1]!)),
  measure('ed25519 sign 300 B (noble)', () => core.signNoble(msg, patient)),
  measure('ed25519 public key of secret (noble)', () => ed25519.getPublicKey(patient)),
  measure('ed25519 sign 300 B (installed)', () => core.sign(msg, patient)),
  measure('publicKeyOf (installed)', () => core.publicKeyOf(patient)),
  measure('seal 1 KiB for patient + hospital', () => core.seal(text, readers)),
  measure('open 1 KiB (hospital)', () => core.open(sealed, hospital)),
  measure('sign a record.submit tx', () => core.signTx(tx, patient)),
  measure('report: seal 2 readers + sign tx', () => {
    core.seal(text, readers);
    core.signTx(tx, patient);
  }),
];
if (typeof c['x25519SharedSecret'] === 'function') {
  const f = c['x25519SharedSecret'] as (s: Uint8Array, p: Uint8Array) => Uint8Array;
  results.splice(
    1,
    0,
    measure('x25519 shared secret (installed)', () => f(xs, xpub)),
  );
}
console.log('\n| operation | µs/op | ops/s |\n|---|---:|---:|');
for (const r of results) console.log(`| ${r.name} | ${r.usPerOp} | ${r.opsPerSec} |`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ when: new Date().toISOString(), node: process.version, backends, results }, null, 2)}\n`,
);
console.log(`\nwrote ${out}`);
