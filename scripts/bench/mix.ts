/**
 * The realistic mix of `run bench`, through the typed client (EhrClient) as an application would
 * use it: each client is one person with their own key, signing and sealing inline, on the
 * client's side of the clock. Patients submit ~1 KB text reports, attach 64 KB documents and
 * share/revoke consents; doctors write prescriptions and open (audited) reports.
 *
 * People are created once, before any timed phase, and reused by later phases (person i by
 * client i): a patient has signed up and submitted one report to the benchmark hospital under
 * the specialization of doctor i, so doctor i's list holds that report and little else.
 */
import { randomBytes } from 'node:crypto';
import { EhrClient, RpcClient, type SubmitResult } from '@ehr/api';
import { generateSecretKey, loadKeyFile, publicKeyOf, toHex } from '@ehr/core';
import type { TestCluster } from '../../test/harness/cluster.ts';

export const MIX_WORKLOADS = [
  'reports',
  'documents',
  'prescriptions',
  'reads',
  'consents',
] as const;
export type MixWorkload = (typeof MIX_WORKLOADS)[number];

/** What one operation of each workload is, for the table. */
export const MIX_DESCRIPTIONS: Record<MixWorkload, string> = {
  reports: 'patient seals a ~1 KB text report for itself and the hospital, signs, submits',
  documents: 'patient seals a 64 KB file (a scan), signs, submits',
  prescriptions: 'doctor lists its reports, seals a ~1 KB prescription, signs, submits',
  reads: 'doctor opens a report (signed read; the node records it with an access.record tx)',
  consents: 'patient shares everything with a second hospital, or revokes (alternately)',
};

const SECOND = 'bench-second';
const hospitalOf = (i: number) => `bench-${Math.floor(i / 64)}`;
const specOf = (i: number) => `spec-${i % 64}`;
const TIMEOUT_MS = 60_000;

/** Counts what the typed client submits: transactions and their bytes (tx + bodies). */
export class CountingRpc extends RpcClient {
  txs = 0;
  bytes = 0;
  override submitEncoded(
    tx: Uint8Array,
    opts?: Parameters<RpcClient['submitEncoded']>[1],
  ): Promise<SubmitResult> {
    this.txs++;
    this.bytes += tx.length + (opts?.payloads ?? []).reduce((a, b) => a + b.length, 0);
    return super.submitEncoded(tx, opts);
  }
}

/** ~`n` bytes of printable clinical-looking text (random, so nothing compresses it away). */
export function reportText(n: number): string {
  const words = randomBytes(n).toString('base64').replace(/[+/=]/g, ' ');
  return `Presenting complaint and history: ${words}`.slice(0, n);
}

interface Person {
  rpc: CountingRpc;
  patient: EhrClient;
  doctor: EhrClient;
  /** The patient's report, for doctor i (its specialization). */
  report: string;
  shared: boolean;
}

export class Mix {
  private readonly cluster: TestCluster;
  private readonly names: string[];
  private readonly hospitalSecret = generateSecretKey();
  private readonly secondSecret = generateSecretKey();
  private readonly people: Person[] = [];
  private admin: EhrClient | undefined;
  private readonly log: (s: string) => void;

  constructor(cluster: TestCluster, log: (s: string) => void) {
    this.cluster = cluster;
    this.names = cluster.plan.nodes.map((n) => n.name);
    this.log = log;
  }

  private url(i: number): string {
    return this.cluster.node(this.names[i % this.names.length]!).gatewayUrl;
  }

  /** Makes sure `n` people exist (admin work sequential, people's own work concurrent). */
  async ensure(n: number): Promise<void> {
    if (this.people.length >= n) return;
    const t0 = performance.now();
    const from = this.people.length;
    if (!this.admin) {
      this.admin = new EhrClient(this.url(0), loadKeyFile(this.cluster.plan.adminKey).secretKey, {
        timeoutMs: TIMEOUT_MS,
      });
    }
    // A hospital offers at most 64 specializations: doctor i works at hospital i/64 under
    // specialization i%64, so each doctor's list holds its own patient's report.
    for (let h = Math.ceil(from / 64); h < Math.ceil(n / 64); h++) {
      await this.admin.admin.addHospital({
        id: hospitalOf(h * 64),
        name: `Bench hospital ${h}`,
        specializations: Array.from({ length: 64 }, (_, k) => `spec-${k}`),
        encryptionKey: toHex(publicKeyOf(this.hospitalSecret)),
      });
    }
    if (from === 0) {
      await this.admin.admin.addHospital({
        id: SECOND,
        name: 'Second opinion hospital',
        specializations: ['general'],
        encryptionKey: toHex(publicKeyOf(this.secondSecret)),
      });
    }
    const doctorKeys = Array.from({ length: n - from }, () => generateSecretKey());
    for (const [k, key] of doctorKeys.entries()) {
      await this.admin.admin.addDoctor({
        key: toHex(publicKeyOf(key)),
        hospital: hospitalOf(from + k),
        name: `Doctor ${from + k}`,
        specialization: specOf(from + k),
      });
    }
    const created = await inBatches(n - from, 64, async (k) => {
      const i = from + k;
      const rpc = new CountingRpc(this.url(i));
      const patient = new EhrClient(rpc, generateSecretKey(), { timeoutMs: TIMEOUT_MS });
      // An overloaded node may refuse a step (a read it cannot vouch for in time): try again.
      await retried(() => patient.patient.register({ name: `Patient ${i}`, born: '1970-01-01' }));
      const r = await retried(() =>
        patient.patient.submitReport({
          content: { type: 'text', text: reportText(1024) },
          hospital: hospitalOf(i),
          specialization: specOf(i),
        }),
      );
      const doctor = new EhrClient(rpc, doctorKeys[k]!, {
        timeoutMs: TIMEOUT_MS,
        hospitalSecretKey: this.hospitalSecret,
      });
      // Warm the doctor's session (its record, the hospital, the read target) like an app would.
      await retried(() => doctor.doctor.readReport(r.hash));
      return { rpc, patient, doctor, report: r.hash, shared: false };
    });
    this.people.push(...created);
    this.log(`  (${n - from} people set up in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }

  /** Counts submitted transactions and bytes across people 0..n-1 (for bytes per operation). */
  submitted(n: number): { txs: number; bytes: number } {
    let txs = 0;
    let bytes = 0;
    for (const p of this.people.slice(0, n)) {
      txs += p.rpc.txs;
      bytes += p.rpc.bytes;
    }
    return { txs, bytes };
  }

  /** One operation of `w` by person `i`; resolves when it is committed (or served, for reads). */
  async op(w: MixWorkload, i: number): Promise<void> {
    const p = this.people[i]!;
    switch (w) {
      case 'reports':
        await p.patient.patient.submitReport({
          content: { type: 'text', text: reportText(1024) },
          hospital: hospitalOf(i),
          specialization: specOf(i),
        });
        return;
      case 'documents':
        await p.patient.patient.attachDocument({
          content: {
            type: 'file',
            name: 'scan.bin',
            mediaType: 'application/octet-stream',
            data: new Uint8Array(randomBytes(64 * 1024)),
          },
        });
        return;
      case 'prescriptions':
        await p.doctor.doctor.prescribe({
          record: p.report,
          content: { type: 'text', text: reportText(1024) },
        });
        return;
      case 'reads': {
        const r = await p.doctor.doctor.readReport(p.report);
        if (r.audit === null) throw new Error('the read was not recorded on chain');
        return;
      }
      case 'consents':
        if (p.shared) await p.patient.patient.revoke(SECOND);
        else await p.patient.patient.share({ hospital: SECOND });
        p.shared = !p.shared;
        return;
    }
  }
}

/** `f`, tried up to five times (a second apart) while it fails. */
async function retried<T>(f: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Runs `f(0..n-1)` with at most `width` at once; the results in order. */
async function inBatches<T>(n: number, width: number, f: (k: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) {
        const k = next++;
        out[k] = await f(k);
      }
    }),
  );
  return out;
}
