/**
 * End to end through the gateway's dispatcher: the doctor_reports a doctor is listed are exactly
 * the reports record_get serves them, over a chain built from real signed transactions (the
 * ledger's test chain) and reads signed like clients sign them. Each served read is recorded on
 * that chain by its validator, as a node would.
 */
import { check, RESULTS, signRead } from '@ehr/api';
import { fromHex, toHex } from '@ehr/core';
import { listPatientRecords } from '@ehr/ledger';
import { describe, expect, it } from 'vitest';
import {
  type Account,
  account,
  body,
  ref,
  reportPayload,
  world,
  wrapped,
} from '../../ledger/test/helpers.ts';
import { Dispatcher } from '../src/dispatcher.ts';
import { registerQueryMethods } from '../src/query-methods.ts';
import { ReadGuard } from '../src/read-guard.ts';

type Reply = { result?: unknown; error?: { code: number; message: string; data?: unknown } };

async function gatewayOver() {
  const w = await world();
  const { chain } = w;
  chain.deadlines = true;
  const node = chain.proposer.hex;
  const d = new Dispatcher();
  registerQueryMethods(
    d,
    {
      state: chain.state,
      now: () => chain.time,
      consensus: () => ({ voters: [node], learners: [] }),
      pending: () => [],
      payload: async (hash) => chain.bodies.get(hash),
      readBarrier: async () => {},
      // The serving node records the read on chain: a real access.record by the validator.
      recordAccess: async (reader, target, purpose) => {
        const rc = await chain.one(
          chain.tx(chain.proposer, 'access.record', {
            reader: fromHex(reader),
            target,
            purpose,
            readAt: chain.time,
          }),
        );
        if (!rc.ok) throw new Error(`access.record refused: ${rc.code} ${rc.message}`);
        return rc.hash;
      },
    },
    new ReadGuard(chain.genesis.chainId, node),
  );
  let id = 0;
  const call = async (who: Account, method: string, params: Record<string, unknown>) => {
    const signed = signRead({ chainId: chain.genesis.chainId, node }, method, params, who.secret);
    const text = await d.receive(
      JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params: signed }),
    );
    const reply = JSON.parse(text!) as Reply;
    if (reply.result !== undefined) {
      const schema = RESULTS[method];
      if (schema) expect(check(schema, reply.result, method)).toBeNull();
    }
    return reply;
  };
  const raw = async (method: string, params: Record<string, unknown>) =>
    JSON.parse(
      (await d.receive(JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params })))!,
    ) as Reply;
  const sign = (who: Account, method: string, params: Record<string, unknown>) =>
    signRead({ chainId: chain.genesis.chainId, node }, method, params, who.secret);
  return { ...w, call, raw, sign };
}

describe('gateway: doctor_reports agrees with record_get', () => {
  it('lists what opens and opens what it lists, over shares, revocations and prescriptions', async () => {
    const g = await gatewayOver();
    const { chain, alice, bob, heart, skin, river } = g;
    const submit = async (who: Account, label: string, h: string, spec: string) => {
      const r = reportPayload(label, h, spec);
      const rc = await chain.one(chain.tx(who, 'record.submit', r.payload), [r.body]);
      expect(rc.ok).toBe(true);
      return rc.hash;
    };
    const grant = async (who: Account, hospital: string, scope: 'all' | string[]) => {
      const keys: Record<string, Uint8Array> = {};
      if (scope !== 'all') for (const id of scope) keys[id] = wrapped(`${id} for ${hospital}`);
      const rc = await chain.one(chain.tx(who, 'consent.grant', { hospital, scope, keys }));
      expect(rc.ok).toBe(true);
    };
    const a1 = await submit(alice, 'a1', 'city-general', 'cardiology');
    const a2 = await submit(alice, 'a2', 'river-clinic', 'cardiology');
    const b1 = await submit(bob, 'b1', 'city-general', 'dermatology');
    // Alice shares her profile only with city-general (scope: her own id): no report of hers.
    await grant(alice, 'city-general', [alice.hex]);
    // Bob shares everything with river-clinic, revokes, then shares b1 only again.
    await grant(bob, 'river-clinic', 'all');
    const revoke = chain.tx(bob, 'consent.revoke', { hospital: 'river-clinic' });
    expect((await chain.one(revoke)).ok).toBe(true);
    await grant(bob, 'river-clinic', [b1]);
    // The river cardiologist prescribes on a2: it leaves the pending list but stays readable.
    const rx = body('rx a2', 50);
    const written = await chain.one(
      chain.tx(river, 'prescription.write', {
        record: a2,
        ...ref(rx),
        patientKey: wrapped('rx p'),
        hospitalKey: wrapped('rx h'),
      }),
      [rx],
    );
    expect(written.ok).toBe(true);

    const everyReport = [
      ...(await listPatientRecords(chain.state, alice.hex)),
      ...(await listPatientRecords(chain.state, bob.hex)),
    ].filter((r) => r.kind === 'report');
    expect(everyReport.map((r) => r.id).sort()).toEqual([a1, a2, b1].sort());

    const want: Record<string, [string, string][]> = {
      [heart.hex]: [[a1, 'PENDING_REPORT']],
      [skin.hex]: [[b1, 'PENDING_REPORT']],
      [river.hex]: [
        [a2, 'PRESCRIBER'],
        [b1, 'CONSENT'],
      ],
    };
    for (const doc of [heart, skin, river]) {
      const listed = await g.call(doc, 'doctor_reports', { doctor: doc.hex });
      const rows = (listed.result as { items: { id: string; access: string }[] }).items;
      expect(rows.map((r) => [r.id, r.access])).toEqual(want[doc.hex]);
      for (const r of everyReport) {
        const got = await g.call(doc, 'record_get', { id: r.id, purpose: 'TREAT' });
        const row = rows.find((x) => x.id === r.id);
        if (row) {
          expect(got.error).toBeUndefined();
          expect((got.result as { reason: string }).reason).toBe(row.access);
        } else {
          expect(
            got.error,
            `${doc.name} opened ${r.id.slice(0, 8)} without it being listed`,
          ).toBeDefined();
        }
      }
    }
    // Alice's profile opens for city-general's doctors, so she is their patient, with 0 reports
    // (patients are listed by key).
    const pats = await g.call(skin, 'doctor_patients', { doctor: skin.hex });
    expect(pats.result).toEqual({
      items: [
        { patient: bob.hex, reasons: ['PENDING_REPORT'], reports: 1 },
        { patient: alice.hex, reasons: ['CONSENT'], reports: 0 },
      ].sort((x, y) => (x.patient < y.patient ? -1 : 1)),
    });
    expect((await g.call(skin, 'patient_profile', { patient: alice.hex })).error).toBeUndefined();
  });

  it('checks every page as a signed read: a page read is not replayed or re-aimed', async () => {
    const g = await gatewayOver();
    const { chain, alice, heart } = g;
    for (let i = 0; i < 3; i++) {
      const r = reportPayload(`p${i}`, 'city-general', 'cardiology');
      expect((await chain.one(chain.tx(alice, 'record.submit', r.payload), [r.body])).ok).toBe(
        true,
      );
    }
    const first = await g.call(heart, 'doctor_reports', { doctor: heart.hex, limit: 1 });
    const page = first.result as { items: { id: string }[]; cursor: string };
    expect(page.items).toHaveLength(1);
    // The next page, signed afresh, continues; the same signed read again is a replay.
    const params = g.sign(heart, 'doctor_reports', {
      doctor: heart.hex,
      limit: 1,
      cursor: page.cursor,
    });
    const second = await g.raw('doctor_reports', params);
    expect((second.result as { items: { id: string }[] }).items[0]!.id).not.toBe(page.items[0]!.id);
    expect((await g.raw('doctor_reports', params)).error?.data).toMatchObject({
      code: 'READ_REPLAYED',
    });
    // A signed read whose cursor is changed after signing does not pass the signature.
    const again = g.sign(heart, 'doctor_reports', { doctor: heart.hex, limit: 1 });
    const moved = await g.raw('doctor_reports', { ...again, cursor: page.cursor });
    expect(moved.result).toBeUndefined();
    expect(moved.error?.data).toMatchObject({ code: 'BAD_SIGNATURE' });
    // Alice's own list, paged, with a cursor of the doctor's list: refused with a code.
    const wrong = await g.call(alice, 'patient_reports', {
      patient: alice.hex,
      cursor: page.cursor,
    });
    expect(wrong.error?.data).toMatchObject({ code: 'INVALID_CURSOR' });
    expect(wrong.error?.code).toBe(-32060);
  });

  it("refuses hostile doctor reads: someone else's list, unknown doctors, patients", async () => {
    const { call, heart, skin, alice } = await gatewayOver();
    const other = await call(skin, 'doctor_reports', { doctor: heart.hex });
    expect(other.error?.message).toMatch(/only the doctor may list this/);
    const ghost = account('ghost');
    const unknown = await call(ghost, 'doctor_reports', { doctor: ghost.hex });
    expect(unknown.error?.message).toMatch(/doctor .* not found/);
    const patient = await call(alice, 'doctor_patients', { doctor: alice.hex });
    expect(patient.error?.message).toMatch(/not found/);
    const nothing = await call(heart, 'record_documents', { id: toHex(new Uint8Array(32)) });
    expect(nothing.error).toBeDefined();
  });
});
