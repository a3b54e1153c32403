/**
 * What a doctor is listed and what the doctor may open are one rule: over seeded random
 * histories of real signed transactions (reports, documents, consents scoped to everything, to
 * records or to the patient's own id, revocations, re-shares, expiries, prescriptions, erasures,
 * deactivations, and hostile transactions the rules refuse), every report listDoctorReports
 * gives a doctor is one canRead allows, with the same reason, and every report canRead allows is
 * listed. listDoctorPatients and listReadableDocuments are checked the same way.
 */
import { sha256, toHex, type ValueMap } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import {
  canRead,
  canReaderRead,
  getRecord,
  type HealthRecord,
  listDoctorPatients,
  listDoctorReports,
  listPatientRecords,
  listReadableDocuments,
  type Page,
  type PageOpts,
  pageDoctorPatients,
  pageDoctorReports,
  resolveReader,
} from '../src/index.ts';
import {
  type Account,
  account,
  body,
  doctorPayload,
  hospitalPayload,
  patientPayload,
  ref,
  reportPayload,
  seeded,
  TestChain,
  world,
  wrapped,
} from './helpers.ts';

const HOSPITALS: [string, string[]][] = [
  ['city-general', ['cardiology', 'dermatology']],
  ['river-clinic', ['cardiology']],
  ['hill-hospital', ['dermatology', 'neurology']],
];

/** Every page, following cursors (at most 10,000 pages: a cursor that never ends fails). */
async function pagesOf<T>(fetch: (o: PageOpts) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 10_000; i++) {
    const pg = await fetch(cursor ? { cursor } : {});
    out.push(...pg.items);
    cursor = pg.cursor;
    if (cursor === undefined) return out;
  }
  throw new Error('the cursor never ended');
}

type Tally = {
  reasons: Map<string, number>;
  profileOnlyHidden: number;
  refused: number;
  applied: Map<string, number>;
};

/**
 * Every report on chain canRead lets `reader` open at `now` as a doctor (a patient's own reads,
 * PATIENT_OWN, are the patient's lists, not these).
 */
async function openable(chain: TestChain, patients: Account[], reader: string, now: number) {
  const out = new Map<string, string>();
  for (const p of patients) {
    for (const r of await listPatientRecords(chain.state, p.hex, { limit: 100_000 })) {
      if (r.kind !== 'report') continue;
      const d = await canRead(chain.state, reader, r.id, now);
      // The lists decide without looking up keys: the same decision, only the key left out.
      const keyless = await canReaderRead(
        chain.state,
        await resolveReader(chain.state, reader),
        r.id,
        now,
        { withKey: false },
      );
      expect(keyless).toEqual({ ...d, wrappedKey: null });
      if (d.allowed && d.reason !== 'PATIENT_OWN') out.set(r.id, d.reason);
    }
  }
  return out;
}

/** Asserts lists and reads agree for every doctor (and for readers who are not doctors). */
async function checkAgreement(
  chain: TestChain,
  doctors: Account[],
  patients: Account[],
  others: string[],
  now: number,
  tally: Tally,
): Promise<void> {
  const s = chain.state;
  for (const reader of [...doctors.map((d) => d.hex), ...others]) {
    const listed = await listDoctorReports(s, reader, now);
    const ids = listed.map((r) => r.id);
    expect(new Set(ids).size, 'no report listed twice').toBe(ids.length);
    const can = await openable(chain, patients, reader, now);
    // Every listed report opens, for the reason given; every openable report is listed.
    for (const r of listed) {
      expect(r.kind).toBe('report');
      expect(can.get(r.id), `listed ${r.id.slice(0, 8)} but canRead refuses`).toBe(r.access);
    }
    expect(new Set(ids), `reader ${reader.slice(0, 8)} at ${now}`).toEqual(new Set(can.keys()));
    for (const r of listed) tally.reasons.set(r.access, (tally.reasons.get(r.access) ?? 0) + 1);

    // A limit cuts the same list, never another one.
    const two = await listDoctorReports(s, reader, now, { limit: 2 });
    expect(two.map((r) => r.id)).toEqual(ids.slice(0, 2));
    // Small pages, cursor to cursor, concatenate to exactly the same list.
    for (const limit of [1, 3]) {
      const paged = await pagesOf((o) => pageDoctorReports(s, reader, now, { ...o, limit }));
      expect(paged.map((r) => r.id)).toEqual(ids);
      const pp = await pagesOf((o) => pageDoctorPatients(s, reader, now, { ...o, limit }));
      expect(pp).toEqual(await listDoctorPatients(s, reader, now));
    }

    // Patients: those with an openable report (counted), then those whose profile opens.
    const pats = await listDoctorPatients(s, reader, now);
    const want = new Map<string, number>();
    for (const r of listed) want.set(r.patient, (want.get(r.patient) ?? 0) + 1);
    for (const p of patients) {
      if (want.has(p.hex)) continue;
      const d = await canRead(s, reader, p.hex, now);
      if (d.allowed && d.reason !== 'PATIENT_OWN') want.set(p.hex, 0);
    }
    expect(new Map(pats.map((p) => [p.patient, p.reports]))).toEqual(want);
    for (const p of pats) {
      const reasons = new Set(listed.filter((r) => r.patient === p.patient).map((r) => r.access));
      if (p.reports === 0) reasons.add('CONSENT');
      expect(new Set(p.reasons)).toEqual(reasons);
      // A consent scoped to the patient's id shares the profile, not the reports.
      if (p.reports === 0) {
        const theirs = await listPatientRecords(s, p.patient, { limit: 100_000 });
        if (theirs.some((r) => r.kind === 'report')) tally.profileOnlyHidden++;
      }
    }

    // Documents of a report: listed exactly when they open.
    for (const id of ids) {
      const { decision, documents } = await listReadableDocuments(s, reader, id, now);
      expect(decision.allowed).toBe(true);
      const attached = (
        await listPatientRecords(s, listed.find((r) => r.id === id)!.patient, {
          limit: 100_000,
        })
      ).filter((r) => r.report === id);
      const opens = [];
      for (const d of attached) if ((await canRead(s, reader, d.id, now)).allowed) opens.push(d.id);
      expect(documents.map((d) => d.id)).toEqual(opens);
    }
  }
}

/** One seeded history; checks agreement along the way and at the end. */
async function scenario(seed: number, tally: Tally): Promise<void> {
  const rnd = seeded(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number) => rnd() < p;
  const chain = new TestChain();
  const admin = account('admin');
  const doctors: Account[] = [];
  const specOf = new Map<string, [string, string]>();
  const patients = Array.from({ length: 5 }, (_, i) => account(`s${seed}-patient-${i}`));
  const setup: Uint8Array[] = [];
  const profiles: Uint8Array[] = [];
  for (const [id, specs] of HOSPITALS)
    setup.push(chain.tx(admin, 'hospital.register', hospitalPayload(id, specs)));
  for (let i = 0; i < 7; i++) {
    const d = account(`s${seed}-doctor-${i}`);
    const [h, specs] = HOSPITALS[i % HOSPITALS.length]!;
    const spec = pick(specs);
    specOf.set(d.hex, [h, spec]);
    doctors.push(d);
    setup.push(chain.tx(admin, 'doctor.register', doctorPayload(d, h, spec)));
  }
  for (const p of patients) {
    const pp = patientPayload(p);
    profiles.push(pp.profile);
    setup.push(chain.tx(p, 'patient.register', pp.payload));
  }
  const first = await chain.commit(setup, profiles);
  expect(first.receipts.every((r) => r.ok)).toBe(true);

  const records = new Map<string, HealthRecord[]>(patients.map((p) => [p.hex, []]));
  const stranger = account(`s${seed}-stranger`).hex;
  let n = 0;
  const send = async (
    author: Account,
    kind: string,
    payload: ValueMap,
    bodies: Uint8Array[] = [],
  ) => {
    chain.deadlines = chance(0.7); // legacy transactions (no deadline) too
    const rc = await chain.one(chain.tx(author, kind, payload), bodies);
    if (!rc.ok) tally.refused++;
    else tally.applied.set(kind, (tally.applied.get(kind) ?? 0) + 1);
    return rc;
  };

  for (let step = 0; step < 70; step++) {
    const p = pick(patients);
    const mine = records.get(p.hex)!;
    const reports = mine.filter((r) => r.kind === 'report');
    const roll = rnd();
    if (roll < 0.25) {
      const [h, specs] = pick(HOSPITALS);
      const b = body(`s${seed} report ${n++}`, 100);
      const extra = HOSPITALS.map(([id]) => id).filter((id) => id !== h && chance(0.3));
      const hospitalKeys: ValueMap = {};
      for (const id of [h, ...extra]) hospitalKeys[id] = wrapped(`k${n} ${id}`);
      const rc = await send(
        p,
        'record.submit',
        {
          hospital: h,
          specialization: chance(0.9) ? pick(specs) : 'oncology', // sometimes not offered
          ...ref(b),
          patientKey: wrapped(`k${n} p`),
          hospitalKeys,
        },
        [b],
      );
      if (rc.ok) mine.push((await getRecord(chain.state, rc.hash))!);
    } else if (roll < 0.35 && reports.length > 0) {
      const report = pick(reports);
      const b = body(`s${seed} doc ${n++}`, 60);
      const rc = await send(
        p,
        'record.attach',
        {
          ...ref(b),
          report: report.id,
          patientKey: wrapped(`k${n} p`),
          hospitalKeys: { [report.hospital!]: wrapped(`k${n} h`) },
        },
        [b],
      );
      if (rc.ok) mine.push((await getRecord(chain.state, rc.hash))!);
    } else if (roll < 0.6) {
      // Share: everything, some records, the profile only (the patient's id), or a mix.
      const [h] = pick(HOSPITALS);
      const kind = rnd();
      let scope: 'all' | string[];
      if (kind < 0.35) scope = 'all';
      else if (kind < 0.6) scope = [p.hex];
      else {
        scope = mine.filter(() => chance(0.4)).map((r) => r.id);
        if (chance(0.3)) scope.push(p.hex);
        // Hostile: another patient's record (refused by the rules).
        if (chance(0.1)) {
          const theirs = records.get(pick(patients).hex)!;
          if (theirs.length) scope.push(pick(theirs).id);
        }
        if (scope.length === 0) scope = [p.hex];
      }
      const keysFor: ValueMap = {};
      if (scope !== 'all') for (const id of scope) keysFor[id] = wrapped(`grant ${id} ${h}`);
      await send(p, 'consent.grant', {
        hospital: chance(0.05) ? 'no-such-hospital' : h,
        scope,
        ...(chance(0.25) ? { expiresAt: chain.time + 1000 * (2 + Math.floor(rnd() * 10)) } : {}),
        keys: keysFor,
      });
    } else if (roll < 0.72) {
      await send(p, 'consent.revoke', { hospital: pick(HOSPITALS)[0] });
    } else if (roll < 0.9) {
      // A doctor prescribes on some report (the rules refuse what they may not read).
      const all = [...records.values()].flat().filter((r) => r.kind === 'report');
      if (all.length === 0) continue;
      const b = body(`s${seed} rx ${n++}`, 50);
      await send(
        pick(doctors),
        'prescription.write',
        {
          record: pick(all).id,
          ...ref(b),
          patientKey: wrapped(`rx${n} p`),
          hospitalKey: wrapped(`rx${n} h`),
        },
        [b],
      );
    } else if (roll < 0.95 && mine.length > 0) {
      await send(p, 'payload.erase', { payloadHash: pick(mine).payloadHash });
    } else if (roll < 0.97) {
      await send(admin, 'doctor.deactivate', { doctor: pick(doctors).key });
    } else if (roll < 0.98) {
      await send(admin, 'hospital.deactivate', { id: pick(HOSPITALS)[0] });
    }
    if (step % 10 === 9) {
      const others = [stranger, admin.hex, pick(patients).hex, toHex(sha256(body('nobody')))];
      // Now, and a little later (consents with a deadline expire in between).
      for (const now of [chain.time, chain.time + 6_000]) {
        await checkAgreement(chain, doctors, patients, others, now, tally);
      }
    }
  }
}

describe('doctor lists agree with the access rules', () => {
  it('over 12 seeded random histories: every listed report opens, every openable one is listed', async () => {
    const tally: Tally = {
      reasons: new Map(),
      profileOnlyHidden: 0,
      refused: 0,
      applied: new Map(),
    };
    for (let seed = 1; seed <= 12; seed++) await scenario(seed, tally);
    // The histories reached every rule, and hostile transactions were refused by the rules.
    expect(tally.reasons.get('PENDING_REPORT') ?? 0).toBeGreaterThan(0);
    expect(tally.reasons.get('PRESCRIBER') ?? 0).toBeGreaterThan(0);
    expect(tally.reasons.get('CONSENT') ?? 0).toBeGreaterThan(0);
    expect(tally.profileOnlyHidden).toBeGreaterThan(0);
    expect(tally.refused).toBeGreaterThan(0);
    for (const kind of [
      'record.submit',
      'record.attach',
      'consent.grant',
      'consent.revoke',
      'prescription.write',
      'payload.erase',
      'doctor.deactivate',
      'hospital.deactivate',
    ]) {
      expect(tally.applied.get(kind) ?? 0, `${kind} applied`).toBeGreaterThan(0);
    }
  }, 120_000);
});

describe('doctor lists: the cases the gateway used to get wrong', () => {
  it('a consent scoped to the patient id shares the profile only; revoke then re-share; other hospitals', async () => {
    const { chain, heart, skin, river, alice } = await world();
    const ids = async (doc: Account) =>
      (await listDoctorReports(chain.state, doc.hex, chain.time)).map((r) => [r.id, r.access]);
    const rep = reportPayload('a1', 'city-general', 'cardiology');
    const r1 = await chain.one(chain.tx(alice, 'record.submit', rep.payload), [rep.body]);
    const rep2 = reportPayload('a2', 'river-clinic', 'cardiology');
    const r2 = await chain.one(chain.tx(alice, 'record.submit', rep2.payload), [rep2.body]);
    expect(r1.ok && r2.ok).toBe(true);
    // Pending: the cardiologist of each chosen hospital, nobody else.
    expect(await ids(heart)).toEqual([[r1.hash, 'PENDING_REPORT']]);
    expect(await ids(river)).toEqual([[r2.hash, 'PENDING_REPORT']]);
    expect(await ids(skin)).toEqual([]);

    // Profile only (scope = the patient's id): the dermatologist may open the profile, not a report.
    const profileOnly = chain.tx(alice, 'consent.grant', {
      hospital: 'city-general',
      scope: [alice.hex],
      keys: { [alice.hex]: wrapped('profile for city') },
    });
    expect(await chain.one(profileOnly)).toMatchObject({ ok: true, code: null, message: null });
    expect(await ids(skin)).toEqual([]);
    expect((await canRead(chain.state, skin.hex, r1.hash, chain.time)).reason).toBe(
      'CONSENT_MISSING',
    );
    expect(await listDoctorPatients(chain.state, skin.hex, chain.time)).toEqual([
      { patient: alice.hex, reasons: ['CONSENT'], reports: 0 },
    ]);

    // Everything, then revoked, then re-shared for one record: only that record.
    const all = chain.tx(alice, 'consent.grant', {
      hospital: 'city-general',
      scope: 'all',
      keys: {},
    });
    expect((await chain.one(all)).ok).toBe(true);
    // Scope "all" covers every report of the patient, whichever hospital it was submitted to.
    expect(await ids(skin)).toEqual([
      [r1.hash, 'CONSENT'],
      [r2.hash, 'CONSENT'],
    ]);
    expect(
      (await chain.one(chain.tx(alice, 'consent.revoke', { hospital: 'city-general' }))).ok,
    ).toBe(true);
    expect(await ids(skin)).toEqual([]);
    expect(await listDoctorPatients(chain.state, skin.hex, chain.time)).toEqual([]);
    const one = chain.tx(alice, 'consent.grant', {
      hospital: 'city-general',
      scope: [r2.hash],
      keys: { [r2.hash]: wrapped('a2 for city') },
    });
    expect((await chain.one(one)).ok).toBe(true);
    // r2 was submitted to river-clinic: shared with city-general now, so listed there; r1 not.
    expect(await ids(skin)).toEqual([[r2.hash, 'CONSENT']]);
    expect(await ids(heart)).toEqual([
      [r1.hash, 'PENDING_REPORT'],
      [r2.hash, 'CONSENT'],
    ]);
    // The consent is for city-general: river-clinic's doctor gains nothing from it.
    expect(await ids(river)).toEqual([[r2.hash, 'PENDING_REPORT']]);

    // Unknown ids, non-doctors: nothing listed, nothing thrown.
    for (const who of ['00'.repeat(32), 'not-hex', alice.hex, '']) {
      expect(await listDoctorReports(chain.state, who, chain.time)).toEqual([]);
      expect(await listDoctorPatients(chain.state, who, chain.time)).toEqual([]);
    }
    const unknown = await listReadableDocuments(
      chain.state,
      heart.hex,
      'ff'.repeat(32),
      chain.time,
    );
    expect([unknown.decision.reason, unknown.documents]).toEqual(['UNKNOWN_RECORD', []]);
  });
});
