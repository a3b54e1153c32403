/**
 * Paged lists over seeded random histories of real signed transactions: pages of any size,
 * cursor to cursor, concatenate to exactly the full list (nothing twice, nothing missed, the
 * same order); paging on while new transactions land lists nothing twice and misses nothing
 * that was there; hostile cursors and limits are refused with a code, never served.
 */
import { isEhrError } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import {
  encodeCursor,
  getRecord,
  type HealthRecord,
  listPatientRecords,
  MAX_PAGE,
  type Page,
  type PageOpts,
  pageHospitals,
  pagePatientAudit,
  pagePatientConsents,
  pagePatientDocuments,
  pagePatientPrescriptions,
  pagePatientReports,
  pageProposals,
} from '../src/index.ts';
import {
  type Account,
  account,
  body,
  hospitalPayload,
  patientPayload,
  ref,
  reportPayload,
  seeded,
  world,
  wrapped,
} from './helpers.ts';

async function pagesOf<T>(fetch: (o: PageOpts) => Promise<Page<T>>, limit: number): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 10_000; i++) {
    const pg = await fetch({ limit, ...(cursor ? { cursor } : {}) });
    expect(pg.items.length).toBeLessThanOrEqual(limit);
    out.push(...pg.items);
    cursor = pg.cursor;
    if (cursor === undefined) return out;
  }
  throw new Error('the cursor never ended');
}

/** A random history on the usual cast plus more patients; returns what the lists should hold. */
async function history(seed: number) {
  const w = await world();
  const { chain, admin, heart } = w;
  chain.deadlines = true;
  const rnd = seeded(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const more = Array.from({ length: 4 }, (_, i) => account(`paging-${seed}-${i}`));
  const pp = more.map(patientPayload);
  const setup = await chain.commit(
    [
      ...more.map((p, i) => chain.tx(p, 'patient.register', pp[i]!.payload)),
      ...Array.from({ length: 6 }, (_, i) =>
        chain.tx(admin, 'hospital.register', hospitalPayload(`extra-${seed}-${i}`, ['cardiology'])),
      ),
    ],
    pp.map((p) => p.profile),
  );
  expect(setup.receipts.every((r) => r.ok)).toBe(true);
  const patients = [w.alice, w.bob, ...more];
  let n = 0;
  for (let step = 0; step < 60; step++) {
    const p = pick(patients);
    const roll = rnd();
    const txs: Uint8Array[] = [];
    const bodies: Uint8Array[] = [];
    if (roll < 0.45) {
      const r = reportPayload(`${seed}-${n++}`, 'city-general', 'cardiology');
      txs.push(chain.tx(p, 'record.submit', r.payload));
      bodies.push(r.body);
    } else if (roll < 0.6) {
      const mine = (await listPatientRecords(chain.state, p.hex)).filter(
        (r) => r.kind === 'report',
      );
      const b = body(`doc ${seed}-${n++}`, 40);
      const report = mine.length > 0 && rnd() < 0.7 ? pick(mine) : null;
      txs.push(
        chain.tx(p, 'record.attach', {
          report: report?.id ?? null,
          ...ref(b),
          patientKey: wrapped(`doc ${n}`),
          hospitalKeys: report ? { [report.hospital!]: wrapped(`doc ${n} h`) } : {},
        }),
      );
      bodies.push(b);
    } else if (roll < 0.75) {
      txs.push(
        chain.tx(p, 'consent.grant', {
          hospital: pick(['city-general', 'river-clinic']),
          scope: 'all',
          keys: {},
        }),
      );
    } else {
      const mine = (await listPatientRecords(chain.state, p.hex)).filter(
        (r) => r.kind === 'report' && r.status === 'pending' && r.hospital === 'city-general',
      );
      if (mine.length === 0) continue;
      const target = pick(mine);
      const b = body(`rx ${seed}-${n++}`, 30);
      txs.push(
        chain.tx(chain.proposer, 'access.record', {
          reader: heart.key,
          target: target.id,
          purpose: 'TREAT',
          readAt: chain.time,
        }),
        chain.tx(heart, 'prescription.write', {
          record: target.id,
          ...ref(b),
          patientKey: wrapped(`rx ${n} p`),
          hospitalKey: wrapped(`rx ${n} h`),
        }),
      );
      bodies.push(b);
    }
    await chain.commit(txs, bodies);
  }
  return { ...w, patients };
}

describe('paged lists', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: pages of any size concatenate to the full list`, async () => {
      const { chain, patients } = await history(seed);
      const s = chain.state;
      const now = chain.time;
      for (const p of patients) {
        const records = await listPatientRecords(s, p.hex);
        const lists: [string, (o: PageOpts) => Promise<Page<unknown>>, unknown[] | null][] = [
          [
            'reports',
            (o) => pagePatientReports(s, p.hex, o),
            records.filter((r) => r.kind === 'report'),
          ],
          [
            'documents',
            (o) => pagePatientDocuments(s, p.hex, o),
            records.filter((r) => r.kind === 'document'),
          ],
          ['prescriptions', (o) => pagePatientPrescriptions(s, p.hex, o), null],
          ['consents', (o) => pagePatientConsents(s, p.hex, now, o), null],
          ['audit', (o) => pagePatientAudit(s, p.hex, o), null],
        ];
        for (const [name, fetch, want] of lists) {
          const full = await pagesOf(fetch, MAX_PAGE);
          if (want) expect(full, name).toEqual(want);
          const ids = full.map((x) => JSON.stringify(x));
          expect(new Set(ids).size, `${name}: nothing twice`).toBe(ids.length);
          for (const limit of [1, 2, 5]) expect(await pagesOf(fetch, limit), name).toEqual(full);
        }
        for (const report of records.filter((r) => r.kind === 'report')) {
          const docs = await pagesOf(
            (o) => pagePatientDocuments(s, p.hex, { ...o, report: report.id }),
            1,
          );
          expect(docs).toEqual(records.filter((r) => r.report === report.id));
        }
      }
      const hospitals = await pagesOf((o) => pageHospitals(s, o), MAX_PAGE);
      expect(hospitals.length).toBe(8);
      expect(await pagesOf((o) => pageHospitals(s, o), 3)).toEqual(hospitals);
      expect(await pagesOf((o) => pageProposals(s, undefined, o), 1)).toEqual([]);
    });
  }

  it('paging on while new reports land lists nothing twice and misses nothing', async () => {
    const { chain, alice } = await history(7);
    const s = chain.state;
    const before = (await pagesOf((o) => pagePatientReports(s, alice.hex, o), MAX_PAGE)).map(
      (r) => r.id,
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    let k = 0;
    do {
      const pg = await pagePatientReports(s, alice.hex, {
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...pg.items.map((r) => r.id));
      cursor = pg.cursor;
      // Between pages, new reports are appended to the chain.
      const r = reportPayload(`late-${k++}`, 'river-clinic', 'cardiology');
      expect((await chain.one(chain.tx(alice, 'record.submit', r.payload), [r.body])).ok).toBe(
        true,
      );
    } while (cursor !== undefined);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(0, before.length)).toEqual(before);
    const after = (await pagesOf((o) => pagePatientReports(s, alice.hex, o), MAX_PAGE)).map(
      (r) => r.id,
    );
    // What was paged is a prefix of the list as it is now (new reports come last).
    expect(after.slice(0, seen.length)).toEqual(seen);
    expect(await getRecord(s, after[after.length - 1]!)).toMatchObject({ kind: 'report' });
  });

  it('refuses hostile cursors and limits with a code, never serving another list', async () => {
    const { chain, alice, bob } = await world();
    const s = chain.state;
    for (let i = 0; i < 3; i++) {
      const r = reportPayload(`h${i}`, 'city-general', 'cardiology');
      expect((await chain.one(chain.tx(alice, 'record.submit', r.payload), [r.body])).ok).toBe(
        true,
      );
      const b = reportPayload(`b${i}`, 'city-general', 'cardiology');
      expect((await chain.one(chain.tx(bob, 'record.submit', b.payload), [b.body])).ok).toBe(true);
    }
    const first = await pagePatientReports(s, alice.hex, { limit: 1 });
    expect(first.cursor).toBeDefined();
    const code = async (o: PageOpts, who: Account = alice) => {
      try {
        await pagePatientReports(s, who.hex, o);
        return 'served';
      } catch (err) {
        if (isEhrError(err)) return err.code;
        throw err;
      }
    };
    for (const limit of [0, -1, 1e12, Number.NaN, 1.5, MAX_PAGE + 1]) {
      expect(await code({ limit }), `limit ${limit}`).toBe('INVALID_LIMIT');
    }
    expect(await code({ limit: 'NaN' as unknown as number })).toBe('INVALID_LIMIT');
    const c = first.cursor!;
    const hostile = [
      '',
      'x',
      '!!!!',
      'a'.repeat(5000),
      `${c.slice(0, -3)}`,
      `${c}AAAA`,
      c.replace(/[A-Za-z]/, (x) => (x === 'A' ? 'B' : 'A')),
      encodeCursor('doctor_reports', 0, ['idx/pending/city-general/cardiology/x']),
      encodeCursor('patient_reports', 3, ['x']),
      encodeCursor('patient_reports', 0, ['record/']),
      encodeCursor('patient_reports', 0, [`qx/patient-kind/${bob.hex}/report/`]),
      Buffer.from('[1,"patient_reports",0]').toString('base64url'),
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('[2,"patient_reports",0,"x"]').toString('base64url'),
    ];
    for (const cursor of hostile) {
      const got = await code({ limit: 10, cursor });
      // A damaged cursor either decodes to another position inside this patient's own list or
      // is refused; it never serves another list.
      if (got === 'served') {
        const pg = await pagePatientReports(s, alice.hex, { limit: 10, cursor });
        for (const r of pg.items as HealthRecord[]) expect(r.patient).toBe(alice.hex);
      } else {
        expect(got, `cursor ${cursor.slice(0, 30)}`).toBe('INVALID_CURSOR');
      }
    }
    // Alice's cursor on Bob's list: outside his prefix, refused.
    expect(await code({ limit: 10, cursor: c }, bob)).toBe('INVALID_CURSOR');
    // Bob's own list still pages.
    expect((await pagePatientReports(s, bob.hex, { limit: 10 })).items.length).toBe(3);
  });
});
