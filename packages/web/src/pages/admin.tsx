/**
 * Admin: hospitals (the portal makes each hospital's encryption key pair and offers its secret,
 * encrypted, as a file), doctors (added from their public key, deactivated), governance.
 */
import type { DoctorInfo, HospitalInfo, ProposalInfo } from '@ehr/api';
import { generateKeyPair, keyFileJsonAsync, toHex } from '@ehr/core';
import { useSignal } from '@preact/signals';
import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import type { Account } from '../account.ts';
import { download, shortKey, when } from '../download.ts';
import { checkNewPassphrase } from '../keystore.ts';
import { formError } from '../messages.ts';
import { events } from '../net.ts';
import {
  ActionStatus,
  Empty,
  ErrorBox,
  Field,
  More,
  useAction,
  useLoad,
  usePages,
} from '../ui.tsx';

const ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
const KEY = /^[0-9a-f]{64}$/;

export function AdminPage(props: { me: Account }) {
  const c = props.me.client;
  const hospitals = useLoad(() => c.directory.hospitals(), [c]);
  // The directory as a list: 20 at a time, more on request.
  const listed = usePages<HospitalInfo>(
    (cursor, limit) =>
      c.session.page<HospitalInfo>('hospital_list', {}, { limit, ...(cursor ? { cursor } : {}) }),
    [c],
  );
  const proposals = useLoad(() => c.directory.proposals(), [c]);
  useEffect(
    () =>
      events.onBlock(() => {
        hospitals.reload();
        listed.reload();
        proposals.reload();
      }),
    [],
  );
  return (
    <>
      <AddHospital me={props.me} onDone={listed.reload} />
      <Hospitals
        list={listed.items.value}
        me={props.me}
        loading={listed.loading.value}
        more={<More pages={listed as ReturnType<typeof usePages<unknown>>} what="hospitals" />}
      />
      <ErrorBox error={listed.error.value ?? hospitals.error.value} />
      <AddDoctor me={props.me} hospitals={hospitals.data.value ?? []} />
      <Governance me={props.me} list={proposals.data.value ?? []} reload={proposals.reload} />
    </>
  );
}

function text(
  v: { value: string },
  label: string,
  opts: { hint?: string; required?: boolean } = {},
) {
  return (
    <Field label={label} {...(opts.hint ? { hint: opts.hint } : {})}>
      {(id, d) => (
        <input
          id={id}
          aria-describedby={d}
          aria-required={opts.required ? 'true' : undefined}
          value={v.value}
          onInput={(e) => {
            v.value = e.currentTarget.value;
          }}
        />
      )}
    </Field>
  );
}

function AddHospital(props: { me: Account; onDone: () => void }) {
  const id = useSignal('');
  const name = useSignal('');
  const address = useSignal('');
  const specs = useSignal('');
  const contact = useSignal('');
  const pass = useSignal('');
  const pass2 = useSignal('');
  const keyFile = useSignal<{ name: string; text: string } | null>(null);
  const act = useAction();
  return (
    <form
      class="card"
      aria-labelledby="add-hospital-h"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run('Registering the hospital…', async (progress) => {
          const specializations = specs.value
            .split(',')
            .map((s) => s.trim().toLowerCase())
            .filter(Boolean);
          if (!ID.test(id.value.trim()))
            throw formError(
              'Hospital id: 2 to 63 lowercase letters, digits or dashes (for example city-general).',
            );
          if (name.value.trim() === '')
            throw formError('Hospital name: enter the hospital’s name.');
          if (specializations.length === 0)
            throw formError(
              'Specializations: list at least one, separated by commas (for example cardiology, dermatology).',
            );
          checkNewPassphrase(pass.value, pass2.value);
          const pair = generateKeyPair();
          const file = await keyFileJsonAsync(pair, {
            passphrase: pass.value,
            label: `${id.value.trim()} encryption key`,
            onProgress: (f) => progress(f * 0.5),
          });
          await props.me.client.admin.addHospital({
            id: id.value.trim(),
            name: name.value.trim(),
            address: address.value.trim(),
            specializations,
            contact: contact.value.trim(),
            encryptionKey: toHex(pair.publicKey),
          });
          pair.secretKey.fill(0);
          keyFile.value = { name: `${id.value.trim()}.enc.json`, text: file };
          pass.value = '';
          pass2.value = '';
          props.onDone();
          return `Hospital "${name.value.trim()}" registered. Download its encryption key below and give it to its doctors.`;
        });
      }}
    >
      <h2 id="add-hospital-h">Add a hospital</h2>
      {text(id, 'Hospital id', { hint: 'Lowercase, e.g. city-general', required: true })}
      {text(name, 'Name', { required: true })}
      {text(address, 'Address')}
      {text(specs, 'Specializations', { hint: 'Separated by commas', required: true })}
      {text(contact, 'Contact')}
      <Field
        label="Passphrase for the hospital's encryption key"
        hint="At least 8 characters; the hospital's doctors will need it."
      >
        {(fid, d) => (
          <input
            id={fid}
            type="password"
            autocomplete="new-password"
            aria-describedby={d}
            value={pass.value}
            onInput={(e) => {
              pass.value = e.currentTarget.value;
            }}
          />
        )}
      </Field>
      <Field label="Passphrase again">
        {(fid) => (
          <input
            id={fid}
            type="password"
            autocomplete="new-password"
            value={pass2.value}
            onInput={(e) => {
              pass2.value = e.currentTarget.value;
            }}
          />
        )}
      </Field>
      <button type="submit" disabled={act.busy.value}>
        Add hospital
      </button>
      <ActionStatus action={act} />
      {keyFile.value && (
        <div class="card inner">
          <button
            type="button"
            onClick={() =>
              keyFile.value && download(keyFile.value.name, keyFile.value.text, 'application/json')
            }
          >
            Download the hospital's encryption key ({keyFile.value.name})
          </button>
          <p class="warning">
            This file opens every record shared with the hospital. Give it only to the hospital's
            doctors, with its passphrase. It is not kept anywhere else: if it is lost, records
            shared with the hospital cannot be opened.
          </p>
        </div>
      )}
    </form>
  );
}

function Hospitals(props: {
  list: HospitalInfo[] | null;
  me: Account;
  loading: boolean;
  more: JSX.Element;
}) {
  const open = useSignal<string | null>(null);
  return (
    <section class="card" aria-labelledby="hospitals-h">
      <h2 id="hospitals-h">Hospitals</h2>
      {props.list && props.list.length === 0 && (
        <Empty>No hospital yet: add the first one above.</Empty>
      )}
      {props.loading && !props.list && <p>Loading…</p>}
      <ul class="list">
        {(props.list ?? []).map((h) => (
          <li key={h.id}>
            <button
              type="button"
              class="link"
              aria-expanded={open.value === h.id}
              onClick={() => {
                open.value = open.value === h.id ? null : h.id;
              }}
            >
              {h.name} ({h.id})
            </button>{' '}
            {h.active ? '' : <em>deactivated</em>} — {h.specializations.join(', ')}
            {open.value === h.id && <HospitalDetail h={h} me={props.me} />}
          </li>
        ))}
      </ul>
      {props.more}
    </section>
  );
}

function HospitalDetail(props: { h: HospitalInfo; me: Account }) {
  const doctors = useLoad(() => props.me.client.directory.doctors(props.h.id), [props.h.id]);
  const act = useAction();
  return (
    <div class="inner">
      <dl>
        <dt>Address</dt>
        <dd>{props.h.address || '—'}</dd>
        <dt>Contact</dt>
        <dd>{props.h.contact || '—'}</dd>
        <dt>Encryption key</dt>
        <dd class="mono">{shortKey(props.h.encryptionKey)}</dd>
        <dt>Registered</dt>
        <dd>{when(props.h.registeredAt)}</dd>
      </dl>
      <h3>Doctors</h3>
      {doctors.data.value?.length === 0 && (
        <Empty>No doctor at this hospital yet: add one below.</Empty>
      )}
      <ul>
        {(doctors.data.value ?? []).map((d: DoctorInfo) => (
          <li key={d.key}>
            Dr. {d.name} — {d.specialization} {d.active ? '' : '(deactivated)'}{' '}
            {d.active && (
              <button
                type="button"
                class="danger small"
                disabled={act.busy.value}
                onClick={() =>
                  void act.run(`Deactivating Dr. ${d.name}…`, async () => {
                    await props.me.client.admin.deactivateDoctor(d.key);
                    doctors.reload();
                    return `Dr. ${d.name} is deactivated.`;
                  })
                }
              >
                Deactivate Dr. {d.name}
              </button>
            )}
          </li>
        ))}
      </ul>
      <ActionStatus action={act} />
    </div>
  );
}

function AddDoctor(props: { me: Account; hospitals: HospitalInfo[] }) {
  const key = useSignal('');
  const hospital = useSignal('');
  const name = useSignal('');
  const spec = useSignal('');
  const qual = useSignal('');
  const exp = useSignal('');
  const act = useAction();
  const h = props.hospitals.find((x) => x.id === hospital.value) ?? props.hospitals[0];
  return (
    <form
      class="card"
      aria-labelledby="add-doctor-h"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run('Registering the doctor…', async () => {
          const k = key.value.trim().toLowerCase();
          if (!KEY.test(k))
            throw formError(
              "Doctor's public key: paste the 64 hexadecimal characters the doctor sees after signing in.",
            );
          if (!h) throw formError('Add a hospital first.');
          if (name.value.trim() === '') throw formError("Name: enter the doctor's name.");
          const s = spec.value.trim().toLowerCase();
          if (!h.specializations.includes(s))
            throw formError(
              `Specialization: ${h.name} offers ${h.specializations.join(', ')}; "${spec.value}" is not one of them.`,
            );
          const years = exp.value.trim() === '' ? 0 : Number(exp.value);
          if (!Number.isInteger(years) || years < 0 || years > 80)
            throw formError('Experience: a whole number of years (0 to 80).');
          await props.me.client.admin.addDoctor({
            key: k,
            hospital: h.id,
            name: name.value.trim(),
            specialization: s,
            qualification: qual.value.trim(),
            experience: years,
          });
          return `Dr. ${name.value.trim()} (${s}) registered at ${h.name}.`;
        });
      }}
    >
      <h2 id="add-doctor-h">Add a doctor</h2>
      {props.hospitals.length === 0 && <Empty>Add a hospital first: doctors belong to one.</Empty>}
      {text(key, "Doctor's public key", {
        hint: 'The doctor creates a key on the Doctor page and reads you its public key',
        required: true,
      })}
      <Field label="Hospital">
        {(id) => (
          <select
            id={id}
            value={h?.id}
            onChange={(e) => {
              hospital.value = e.currentTarget.value;
            }}
          >
            {props.hospitals.map((x) => (
              <option key={x.id} value={x.id}>
                {x.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      {text(name, 'Name', { required: true })}
      {text(spec, 'Specialization', {
        hint: h ? `Offered at ${h.name}: ${h.specializations.join(', ')}` : '',
        required: true,
      })}
      {text(qual, 'Qualification')}
      {text(exp, 'Experience (years)')}
      <button type="submit" disabled={act.busy.value}>
        Add doctor
      </button>
      <ActionStatus action={act} />
    </form>
  );
}

function Governance(props: { me: Account; list: ProposalInfo[]; reload: () => void }) {
  const action = useSignal<'add' | 'remove'>('add');
  const role = useSignal<'validator' | 'observer' | 'admin'>('observer');
  const subject = useSignal('');
  const reason = useSignal('');
  const act = useAction();
  const open = props.list.filter((p) => p.status === 'open');
  return (
    <section class="card" aria-labelledby="gov-h">
      <h2 id="gov-h">Governance</h2>
      <h3>Pending proposals</h3>
      {open.length === 0 && <Empty>No open proposal. Propose a new member below.</Empty>}
      <ul>
        {open.map((p) => (
          <li key={p.id}>
            {p.action} {p.role} <span class="mono">{shortKey(p.subject)}</span> —{' '}
            {p.approvals.length} approval(s)
            {p.reason ? ` — ${p.reason}` : ''}{' '}
            {!p.approvals.includes(props.me.publicKey) && (
              <button
                type="button"
                class="small"
                onClick={() =>
                  void act.run('Approving…', async () => {
                    await props.me.client.admin.approve(p.id);
                    props.reload();
                    return 'Approved.';
                  })
                }
              >
                Approve
              </button>
            )}
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act.run('Proposing…', async () => {
            const k = subject.value.trim().toLowerCase();
            if (!KEY.test(k))
              throw formError(
                'Member key: 64 hexadecimal characters (the node or admin public key).',
              );
            await props.me.client.admin.propose({
              action: action.value,
              role: role.value,
              subject: k,
              ...(reason.value.trim() ? { reason: reason.value.trim() } : {}),
            });
            props.reload();
            return 'Proposal recorded.';
          });
        }}
      >
        <h3>Propose a change</h3>
        <div class="row">
          <Field label="Action">
            {(id) => (
              <select
                id={id}
                value={action.value}
                onChange={(e) => {
                  action.value = e.currentTarget.value as 'add' | 'remove';
                }}
              >
                <option value="add">add</option>
                <option value="remove">remove</option>
              </select>
            )}
          </Field>
          <Field label="Role">
            {(id) => (
              <select
                id={id}
                value={role.value}
                onChange={(e) => {
                  role.value = e.currentTarget.value as 'validator';
                }}
              >
                <option value="observer">observer</option>
                <option value="validator">validator</option>
                <option value="admin">admin</option>
              </select>
            )}
          </Field>
        </div>
        {text(subject, 'Member public key', { required: true })}
        {text(reason, 'Reason')}
        <button type="submit" disabled={act.busy.value}>
          Propose
        </button>
      </form>
      <ActionStatus action={act} />
      <p>
        <a href="#/network">See the network: members, heights, leader</a>
      </p>
    </section>
  );
}
