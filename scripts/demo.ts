/**
 * demo: the whole three-role story against a running network, through three different nodes
 * (the admin talks to node1, the patient to node2, the doctors to node3), with the typed client:
 * every transaction and read is signed, and every body sealed and opened, here on the client.
 *
 *   node scripts/demo.ts [--network .run/network]    (after `run up`)
 *   node scripts/demo.ts --rpc URL [--rpc URL ...] --admin-key FILE
 *       (any running network, e.g. docker compose's: --rpc http://127.0.0.1:8001/ ... and
 *        --admin-key configs/admin.key.json; the nodes are used in the order given)
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Content, EhrClient, RpcClient, RpcError } from '@ehr/api';
import {
  generateSecretKey,
  isPurposeCode,
  loadKeyFile,
  PURPOSES,
  publicKeyOf,
  toHex,
} from '@ehr/core';
import { scriptArgs } from './args.ts';
import type { NetworkPlan } from './network.ts';

const { values } = scriptArgs(
  `
usage: node scripts/demo.ts [--network .run/network]   (or: pnpm run demo -- --network DIR)
       node scripts/demo.ts --rpc URL [--rpc URL ...] --admin-key FILE   (e.g. the compose network)
  --network DIR      the network to play against (its network.json; default .run/network, from run up)
  --rpc URL          a gateway to play against (repeat: the story spreads over them)
  --admin-key FILE   the network's admin key file (with --rpc)
  --help             this text`,
  {
    network: { type: 'string' },
    rpc: { type: 'string', multiple: true },
    'admin-key': { type: 'string' },
  },
);

/** What the story needs of a network: gateways to talk to, the admin key, the chain id. */
interface Target {
  urls: string[];
  adminKey: string;
  chainId: string;
}

async function target(): Promise<Target> {
  if (values.rpc?.length) {
    if (!values['admin-key']) {
      console.error("demo: --rpc needs --admin-key FILE (the network's admin key file)");
      process.exit(2);
    }
    const urls = values.rpc;
    let chainId: string;
    try {
      chainId = (await new RpcClient(urls[0]!).status()).chainId;
    } catch (err) {
      console.error(`demo: no node answers at ${urls[0]}: ${(err as Error).message}`);
      process.exit(2);
    }
    return { urls, adminKey: resolve(values['admin-key']), chainId };
  }
  const netDir = resolve(values.network ?? '.run/network');
  try {
    const plan = JSON.parse(readFileSync(join(netDir, 'network.json'), 'utf8')) as NetworkPlan;
    return {
      urls: plan.nodes.map((n) => n.gatewayUrl),
      adminKey: plan.adminKey,
      chainId: plan.chainId,
    };
  } catch {
    console.error(
      `demo: no network at ${netDir}: start one with \`npx --yes pnpm@12.4.2 run up\` (or pass --network <dir>, or --rpc URL... --admin-key FILE)`,
    );
    process.exit(2);
  }
}
const plan = await target();
const url = (k: number) => plan.urls[k % plan.urls.length]!;
const short = (hex: string) => `${hex.slice(0, 12)}…`;
let step = 0;
const say = (who: string, what: string) =>
  console.log(`${String(++step).padStart(2)}. ${who.padEnd(9)} ${what}`);

async function main(): Promise<void> {
  // Each run registers its own hospital so the demo can be played again on the same network.
  const tag = randomBytes(2).toString('hex');
  const hospitalId = `city-general-${tag}`;
  const hospitalSecret = generateSecretKey();
  // How long a submit waits for its block: a network on a busy machine (five containers sharing
  // two cores) can take more than the client's default 10 s.
  const wait = { timeoutMs: 30_000 };
  const admin = new EhrClient(url(0), loadKeyFile(plan.adminKey).secretKey, wait);
  const alice = new EhrClient(url(1), generateSecretKey(), wait);
  const heartKey = generateSecretKey();
  const skinKey = generateSecretKey();
  const heart = new EhrClient(url(2), heartKey, { hospitalSecretKey: hospitalSecret, ...wait });
  const skin = new EhrClient(url(2), skinKey, { hospitalSecretKey: hospitalSecret, ...wait });

  console.log(`ehr-ledger demo on chain ${plan.chainId} (${plan.urls.length} nodes)\n`);
  await admin.admin.addHospital({
    id: hospitalId,
    name: `City General ${tag}`,
    address: '1 Harbour Road',
    specializations: ['cardiology', 'dermatology'],
    contact: 'desk@city-general.example',
    encryptionKey: toHex(publicKeyOf(hospitalSecret)),
  });
  say('admin', `registered hospital ${hospitalId} (cardiology, dermatology) via ${url(0)}`);
  for (const [key, name, specialization] of [
    [heartKey, 'Dr. Amara Heart', 'cardiology'],
    [skinKey, 'Dr. Sam Skin', 'dermatology'],
  ] as const) {
    await admin.admin.addDoctor({
      key: toHex(publicKeyOf(key)),
      hospital: hospitalId,
      name,
      specialization,
      qualification: 'MD',
      experience: 12,
    });
    say('admin', `added ${name} (${specialization})`);
  }

  await alice.patient.register({ name: 'Alice', born: 1980, allergies: ['penicillin'] });
  say('patient', `Alice signed up as ${short(alice.key)} via ${url(1)}`);
  const hospitals = await alice.patient.hospitalChoices();
  say('patient', `sees ${hospitals.length} hospital(s): ${hospitals.map((h) => h.id).join(', ')}`);
  const report = await alice.patient.submitReport({
    content: { type: 'text', text: 'Chest pain when climbing stairs since Monday.' },
    hospital: hospitalId,
    specialization: 'cardiology',
  });
  say('patient', `submitted report ${short(report.hash)} to ${hospitalId} / cardiology (sealed)`);
  await alice.patient.attachDocument({
    content: { type: 'text', text: 'ECG, 2025-03-02: sinus rhythm, 72 bpm.' },
    report: report.hash,
  });
  say('patient', 'attached an earlier ECG to the report');

  const pending = await heart.doctor.reports();
  say('doctor', `Dr. Heart sees ${pending.length} report(s) pending via ${url(2)}`);
  const read = await heart.doctor.readReport(report.hash, 'TREAT');
  say('doctor', `Dr. Heart reads it (${read.reason}): "${textOf(read.content)}"`);
  try {
    await skin.doctor.readReport(report.hash, 'HOPERAT');
    throw new Error('the dermatologist should not read a cardiology report without consent');
  } catch (err) {
    say('doctor', `Dr. Skin is refused: ${reasonOf(err)}`);
  }

  await alice.patient.share({ hospital: hospitalId });
  say('patient', `Alice shares her records with ${hospitalId}`);
  const second = await skin.doctor.readReport(report.hash, 'COC');
  say('doctor', `Dr. Skin may read it now (${second.reason})`);

  const rx = await heart.doctor.prescribe({
    record: report.hash,
    content: { type: 'text', text: 'Aspirin 75 mg daily for 30 days; stress test next week.' },
  });
  say('doctor', `Dr. Heart prescribes (${short(rx.hash)}); the report is now prescribed`);
  const rxs = await alice.patient.prescriptions();
  const mine = rxs.find((p) => p.id === rx.hash);
  say(
    'patient',
    `Alice reads her prescription from ${mine?.doctorName}: "${textOf(mine?.content ?? null)}"`,
  );

  await alice.patient.revoke(hospitalId);
  say('patient', `Alice revokes ${hospitalId}'s access`);
  try {
    await skin.doctor.readReport(report.hash, 'TREAT');
    throw new Error('a revoked consent must deny reads');
  } catch (err) {
    say('doctor', `Dr. Skin is refused: ${reasonOf(err)}`);
  }

  // Audit events are committed shortly after each read.
  let trail = await alice.patient.audit();
  for (let i = 0; i < 50 && trail.filter((e) => e.reader !== alice.key).length < 3; i++) {
    await new Promise((r) => setTimeout(r, 200));
    trail = await alice.patient.audit();
  }
  say('patient', `Alice's audit trail (${trail.length} reads):`);
  for (const e of trail) {
    console.log(
      `      ${new Date(e.readAt).toISOString()}  ${(e.readerName ?? short(e.reader)).padEnd(16)} read ${short(e.target)}  (${isPurposeCode(e.purpose) ? PURPOSES[e.purpose] : e.purpose}) served by ${short(e.node)}`,
    );
  }
  console.log('\ndone: every step above is a signed transaction or a signed, audited read.');
}

function textOf(c: Content | null): string {
  if (!c) return '(no key to open it)';
  return c.type === 'text' ? c.text : `(${c.type})`;
}

function reasonOf(err: unknown): string {
  if (err instanceof RpcError) return `${(err.data as { code?: string })?.code}: ${err.message}`;
  throw err;
}

main().catch((err: Error) => {
  console.error(`demo failed: ${err.message}`);
  process.exit(1);
});
