/**
 * bench:core - ops/s of the primitives on this machine. Prints a table, writes .bench/core.json.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { scriptArgs } from '../../../scripts/args.ts';
import {
  decodeTx,
  encodeTx,
  generateSecretKey,
  merkleRoot,
  open,
  publicKeyOf,
  seal,
  sha256,
  sign,
  signNoble,
  signTx,
  utf8,
  verifyNative,
  verifyNoble,
} from '../src/index.ts';

scriptArgs(
  `
usage: node packages/core/bench/core.bench.ts   (or: pnpm run bench:core)
  takes no flags; prints a table and writes .bench/core.json
  --help   this text`,
  {},
);

function measure(name: string, fn: () => void, minMs = 700): { name: string; opsPerSec: number } {
  for (let i = 0; i < 20; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    for (let i = 0; i < 10; i++) fn();
    n += 10;
    t = performance.now();
  }
  const opsPerSec = Math.round((n * 1000) / (t - t0));
  console.log(`${name.padEnd(34)} ${String(opsPerSec).padStart(10)} ops/s`);
  return { name, opsPerSec };
}

const sk = generateSecretKey();
const pk = publicKeyOf(sk);
const msg = randomBytes(128);
const sig = sign(msg, sk);
const b256 = randomBytes(256);
const b4k = randomBytes(4096);
const b64k = randomBytes(65536);
const tx = signTx(
  {
    chainId: 'bench',
    author: pk,
    nonce: 7,
    kind: 'record.submit',
    payload: {
      hospital: 'city-general',
      specialization: 'cardiology',
      payloadHash: sha256(utf8('x')),
      payloadSize: 2048,
      patientKey: randomBytes(112),
      hospitalKeys: { 'city-general': randomBytes(112) },
    },
  },
  sk,
);
const txBytes = encodeTx(tx);
const hashes = Array.from({ length: 1000 }, (_, i) => sha256(utf8(`tx ${i}`)));
const readers = [generateSecretKey(), generateSecretKey(), generateSecretKey()];
const sealed = seal(b4k, readers.map(publicKeyOf));

const results = [
  measure('ed25519 sign (node:crypto)', () => sign(msg, sk)),
  measure('ed25519 sign (noble)', () => signNoble(msg, sk)),
  measure('ed25519 verify (native, strict)', () => verifyNative(sig, msg, pk)),
  measure('ed25519 verify (noble, strict)', () => verifyNoble(sig, msg, pk)),
  measure('sha256 256 B', () => sha256(b256)),
  measure('sha256 4 KiB', () => sha256(b4k)),
  measure('sha256 64 KiB', () => sha256(b64k)),
  measure(`encode tx (${txBytes.length} B)`, () => encodeTx(tx)),
  measure('decode tx', () => decodeTx(txBytes)),
  measure('merkle root of 1,000 tx', () => merkleRoot(hashes)),
  measure('seal 4 KiB for 3 readers', () => seal(b4k, readers.map(publicKeyOf))),
  measure('open 4 KiB (one reader)', () => open(sealed, readers[1]!)),
];
console.log('\n| operation | ops/s |\n|---|---:|');
for (const r of results) console.log(`| ${r.name} | ${r.opsPerSec} |`);
mkdirSync('.bench', { recursive: true });
writeFileSync(
  '.bench/core.json',
  `${JSON.stringify({ when: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
);
console.log('\nwrote .bench/core.json');
