/**
 * Page latency of every list over a generated chain (scripts/bench/gen-chain.ts): for a sample of
 * patients and doctors, the first page and the pages after it (following cursors), `limit` 100,
 * read straight from the store (the gateway adds JSON and the signed-read check). Prints a table
 * and writes JSON; it measures, it asserts nothing.
 *
 *   npx --yes pnpm@12.4.2 run bench:paging -- --dir D [--out .bench/paging.json] [--limit 100] [--samples 50]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type Page,
  type PageOpts,
  pageDoctorPatients,
  pageDoctorReports,
  pageDoctors,
  pageHospitals,
  pagePatientAudit,
  pagePatientConsents,
  pagePatientDocuments,
  pagePatientPrescriptions,
  pagePatientReports,
  pageProposals,
} from '@ehr/ledger';
import { Store, servedHeaders } from '@ehr/store';
import { genGenesis, genKey } from './gen-chain.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    out: { type: 'string', default: '.bench/paging.json' },
    limit: { type: 'string', default: '100' },
    samples: { type: 'string', default: '50' },
  },
});
if (!values.dir) throw new Error('usage: paging.ts --dir D [--out F] [--limit N] [--samples S]');
const limit = Number(values.limit);
const samples = Number(values.samples);
const store = await Store.open(values.dir, genGenesis());
const s = store.state;
const now = store.head().time;

const hospitals = (await pageHospitals(s, { limit: 1000 })).items.map((h) => h.id);
const doctors: string[] = [];
for (const h of hospitals)
  doctors.push(...(await pageDoctors(s, h, { limit: 1000 })).items.map((d) => d.key));
let patientCount = 0;
for await (const _ of s.scan('patient/')) patientCount++;
const patients = Array.from(
  { length: samples },
  (_, i) => genKey(`patient ${Math.floor((i * patientCount) / samples)}`).hex,
);

/** Wall time per page (what a caller waits, on a busy machine too) and CPU time per page. */
type Row = {
  list: string;
  pages: number;
  items: number;
  p50: number;
  p99: number;
  max: number;
  cpuP50: number;
  cpuP99: number;
};
const rows: Row[] = [];

/** Times every page (up to 5 per subject) of a list for each subject. */
let warm = false;
/** Lists with one subject (the directory, the chain) are read this many times. */
const repeat = Array.from({ length: 20 }, () => '-');
async function measure(
  list: string,
  subjects: string[],
  fetch: (who: string, o: PageOpts) => Promise<Page<unknown>>,
) {
  const times: number[] = [];
  const cpu: number[] = [];
  let items = 0;
  for (const who of subjects) {
    let cursor: string | undefined;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const pg = await fetch(who, { limit, ...(cursor ? { cursor } : {}) });
      times.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      items += pg.items.length;
      cursor = pg.cursor;
      if (!cursor) break;
    }
  }
  if (warm) return;
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const q = (p: number, xs = times) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  rows.push({
    list,
    pages: times.length,
    items,
    p50: q(0.5),
    p99: q(0.99),
    max: times[times.length - 1]!,
    cpuP50: q(0.5, cpu),
    cpuP99: q(0.99, cpu),
  });
}

// Every list twice: a warm-up pass (JIT, LevelDB's block cache), not recorded, then the pass
// that is.
async function all(): Promise<void> {
  await measure('hospital_list', repeat, (_w, o) => pageHospitals(s, o));
  await measure('doctor_list', hospitals, (h, o) => pageDoctors(s, h, o));
  await measure('gov_proposals', repeat, (_w, o) => pageProposals(s, undefined, o));
  await measure('patient_reports', patients, (p, o) => pagePatientReports(s, p, o));
  await measure('patient_documents', patients, (p, o) => pagePatientDocuments(s, p, o));
  await measure('patient_prescriptions', patients, (p, o) => pagePatientPrescriptions(s, p, o));
  await measure('patient_consents', patients, (p, o) => pagePatientConsents(s, p, now, o));
  await measure('patient_audit', patients, (p, o) => pagePatientAudit(s, p, o));
  await measure('doctor_reports', doctors.slice(0, samples), (d, o) =>
    pageDoctorReports(s, d, now, o),
  );
  await measure('doctor_patients', doctors.slice(0, samples), (d, o) =>
    pageDoctorPatients(s, d, now, o),
  );
  // Blocks newest first, as chain_blocks reads them: header records, each verified.
  await measure('chain_blocks', repeat, async (_w, o) => {
    const head = store.head().height;
    const from = o.cursor ? Number(o.cursor) - 1 : head;
    const items = await servedHeaders(store, from, o.limit ?? limit);
    const h = from - items.length;
    return h >= 1 ? { items, cursor: String(h + 1) } : { items };
  });
}
warm = true;
await all();
warm = false;
await all();

const head = store.head();
await store.close();
const fmt = (n: number) => n.toFixed(2).padStart(8);
console.log(
  `paging bench: ${patientCount} patients, height ${head.height}, ${hospitals.length} hospitals, ${doctors.length} doctors, limit ${limit}, load average ${loadavg()[0]!.toFixed(1)}`,
);
console.log(
  `${'list'.padEnd(22)} ${'pages'.padStart(6)} ${'items'.padStart(7)}   p50 ms   p99 ms   max ms  cpu p50  cpu p99`,
);
for (const r of rows) {
  console.log(
    `${r.list.padEnd(22)} ${String(r.pages).padStart(6)} ${String(r.items).padStart(7)} ${fmt(r.p50)} ${fmt(r.p99)} ${fmt(r.max)} ${fmt(r.cpuP50)} ${fmt(r.cpuP99)}`,
  );
}
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(
  values.out,
  `${JSON.stringify({ at: new Date().toISOString(), load: loadavg(), patients: patientCount, height: head.height, limit, rows }, null, 2)}\n`,
);
console.log(`wrote ${values.out}`);
