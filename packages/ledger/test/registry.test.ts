import { describe, expect, it } from 'vitest';
import { type Doctor, getEntity, type Hospital, keys, lastPart, prefixes } from '../src/index.ts';
import { account, doctorPayload, hospitalPayload, world } from './helpers.ts';

describe('hospital and doctor registry', () => {
  it('registers hospitals and doctors, listable by prefix', async () => {
    const { chain, heart, skin } = await world();
    const h = await getEntity<Hospital>(chain.state, keys.hospital('city-general'));
    expect(h).toMatchObject({
      name: 'city-general hospital',
      specializations: ['cardiology', 'dermatology'],
      active: true,
    });
    expect(h!.nodes).toEqual([chain.proposer.hex]);
    const d = await getEntity<Doctor>(chain.state, keys.doctor(heart.hex));
    expect(d).toMatchObject({
      hospital: 'city-general',
      specialization: 'cardiology',
      name: 'Dr. heart',
      active: true,
    });

    const listed: string[] = [];
    for await (const [k] of chain.state.scan(prefixes.hospitalDoctors('city-general')))
      listed.push(lastPart(k));
    expect(listed.sort()).toEqual([heart.hex, skin.hex].sort());
    const hospitals: string[] = [];
    for await (const [, v] of chain.state.scan(prefixes.hospitals()))
      hospitals.push((v as Hospital).id);
    expect(hospitals).toEqual(['city-general', 'river-clinic']);
  });

  it('updates and deactivates a hospital; a deactivated hospital takes no doctors', async () => {
    const { chain, admin } = await world();
    const up = await chain.one(
      chain.tx(admin, 'hospital.update', {
        id: 'river-clinic',
        specializations: ['cardiology', 'oncology'],
        contact: 'new@desk',
      }),
    );
    expect(up).toMatchObject({ ok: true, code: null });
    const h = await getEntity<Hospital>(chain.state, keys.hospital('river-clinic'));
    expect(h).toMatchObject({
      specializations: ['cardiology', 'oncology'],
      contact: 'new@desk',
      name: 'river-clinic hospital',
    });
    expect(h!.updatedAt).toBe(chain.time);

    expect(
      await chain.one(chain.tx(admin, 'hospital.deactivate', { id: 'river-clinic' })),
    ).toMatchObject({ ok: true });
    expect((await getEntity<Hospital>(chain.state, keys.hospital('river-clinic')))!.active).toBe(
      false,
    );
    const late = await chain.one(
      chain.tx(
        admin,
        'doctor.register',
        doctorPayload(account('late'), 'river-clinic', 'oncology'),
      ),
    );
    expect(late).toMatchObject({ ok: false, code: 'INACTIVE', nonceConsumed: true });
    expect(
      await chain.one(chain.tx(admin, 'hospital.deactivate', { id: 'river-clinic' })),
    ).toMatchObject({ code: 'INACTIVE' });
    expect(
      await chain.one(chain.tx(admin, 'hospital.update', { id: 'river-clinic', name: 'x' })),
    ).toMatchObject({ code: 'INACTIVE' });
  });

  it('deactivates a doctor', async () => {
    const { chain, admin, skin } = await world();
    expect(
      await chain.one(chain.tx(admin, 'doctor.deactivate', { doctor: skin.key })),
    ).toMatchObject({ ok: true });
    expect((await getEntity<Doctor>(chain.state, keys.doctor(skin.hex)))!.active).toBe(false);
    expect(
      await chain.one(chain.tx(admin, 'doctor.deactivate', { doctor: skin.key })),
    ).toMatchObject({ code: 'INACTIVE' });
    expect(
      await chain.one(chain.tx(admin, 'doctor.deactivate', { doctor: account('nobody').key })),
    ).toMatchObject({
      code: 'UNKNOWN_ACCOUNT',
    });
  });

  it('rejects with codes', async () => {
    const { chain, admin, alice, heart } = await world();
    const stranger = account('stranger');
    const cases: [Uint8Array, string, RegExp][] = [
      [
        chain.tx(alice, 'hospital.register', hospitalPayload('x', ['a'])),
        'UNAUTHORIZED',
        /needs an admin; author .* is a patient/,
      ],
      [
        chain.tx(
          heart,
          'doctor.register',
          doctorPayload(account('d2'), 'city-general', 'cardiology'),
        ),
        'UNAUTHORIZED',
        /is a doctor/,
      ],
      [
        chain.tx(stranger, 'hospital.deactivate', { id: 'city-general' }),
        'UNKNOWN_ACCOUNT',
        /has no account/,
      ],
      [
        chain.tx(admin, 'hospital.register', hospitalPayload('city-general', ['a'])),
        'ALREADY_EXISTS',
        /id "city-general" is taken/,
      ],
      [
        chain.tx(admin, 'doctor.register', doctorPayload(alice, 'city-general', 'cardiology')),
        'ALREADY_EXISTS',
        /already registered as patient/,
      ],
      [
        chain.tx(admin, 'doctor.register', doctorPayload(account('d3'), 'nowhere', 'cardiology')),
        'UNKNOWN_HOSPITAL',
        /"nowhere" is not registered/,
      ],
      [
        chain.tx(
          admin,
          'doctor.register',
          doctorPayload(account('d4'), 'river-clinic', 'dermatology'),
        ),
        'SPECIALIZATION_MISMATCH',
        /does not offer "dermatology"/,
      ],
      [
        chain.tx(admin, 'hospital.update', { id: 'nowhere', name: 'x' }),
        'UNKNOWN_HOSPITAL',
        /not registered/,
      ],
      [
        chain.tx(admin, 'hospital.update', { id: 'city-general' }),
        'MALFORMED',
        /at least one field/,
      ],
      [
        chain.tx(admin, 'hospital.register', { ...hospitalPayload('ok', ['a']), id: 'Bad Id' }),
        'MALFORMED',
        /payload.id: expected a slug/,
      ],
      [
        chain.tx(admin, 'hospital.register', { ...hospitalPayload('ok2', ['a']), extra: 1 }),
        'MALFORMED',
        /payload.extra: unknown field/,
      ],
      [
        chain.tx(admin, 'hospital.register', {
          ...hospitalPayload('ok3', ['a']),
          encryptionKey: new Uint8Array(3),
        }),
        'MALFORMED',
        /payload.encryptionKey: expected 32 bytes/,
      ],
      [
        chain.tx(admin, 'doctor.register', {
          ...doctorPayload(account('d5'), 'city-general', 'cardiology'),
          experience: -1,
        }),
        'MALFORMED',
        /payload.experience: expected an integer from 0 to 100/,
      ],
      [
        chain.tx(admin, 'doctor.register', {
          ...doctorPayload(account('d6'), 'city-general', 'cardiology'),
          name: undefined,
        }),
        'MALFORMED',
        /payload.name: expected a value \(missing\)/,
      ],
      [
        chain.tx(admin, 'hospital.launch', { id: 'x' }),
        'MALFORMED',
        /unknown kind "hospital.launch"/,
      ],
    ];
    const r = await chain.commit(cases.map(([tx]) => tx));
    r.receipts.forEach((rc, i) => {
      const [, code, message] = cases[i]!;
      expect({ i, code: rc.code }).toEqual({ i, code });
      expect(rc.message).toMatch(message);
      expect(rc.ok).toBe(false);
      expect(rc.nonceConsumed).toBe(true);
    });
    // Rejected by the rules: nonces consumed, tx receipts kept, nothing else written.
    expect(
      r.writes.every(([k]) => k.startsWith('nonce/') || k.startsWith('tx/') || k === keys.head()),
    ).toBe(true);
  });
});
