/**
 * Doctor: load the hospital's encryption key (kept in memory only), the reports I may read
 * (updated live), open one with a purpose (the read is recorded on chain), its attachments,
 * and prescribe.
 */
import type { Content, RecordInfo } from '@ehr/api';
import { PURPOSE_CODES, PURPOSES, type PurposeCode, parseKeyFileAsync } from '@ehr/core';
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { type Account, hospitalKey, loadHospitalKey } from '../account.ts';
import { download, formatBytes, shortKey, when } from '../download.ts';
import { formError } from '../messages.ts';
import { events } from '../net.ts';
import { ActionStatus, Empty, ErrorBox, Field, useAction, useLoad } from '../ui.tsx';

export function DoctorPage(props: { me: Account }) {
  const c = props.me.client;
  const me = useLoad(() => c.doctor.me(), [c]);
  if (me.loading.value && !me.data.value) return <p>Loading your registration…</p>;
  if (me.error.value) {
    return (
      <div class="card">
        <h2>Not registered as a doctor yet</h2>
        <p>Give your hospital’s administrator this public key; they register you with it:</p>
        <p class="mono key" id="my-key">
          {props.me.publicKey}
        </p>
        <button type="button" onClick={me.reload}>
          Check again
        </button>
        <ErrorBox error={me.error.value} />
      </div>
    );
  }
  const d = me.data.value!;
  return (
    <>
      <p>
        Dr. {d.name} — {d.specialization} at {d.hospital}
        {d.active ? '' : ' (deactivated)'}
      </p>
      <HospitalKeyForm />
      <Reports me={props.me} />
      <OpenById me={props.me} />
    </>
  );
}

function HospitalKeyForm() {
  const file = useSignal<File | null>(null);
  const pass = useSignal('');
  const act = useAction();
  return (
    <form
      class="card"
      aria-labelledby="hk-h"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run('Opening the hospital key…', async (progress) => {
          const f = file.value;
          if (!f) throw formError("Choose your hospital's encryption key file.");
          if (f.size > 64 * 1024)
            throw formError('This file is too large to be a key file.', 'KEYFILE_CORRUPT');
          const pair = await parseKeyFileAsync(
            await f.text(),
            f.name,
            pass.value === '' ? undefined : pass.value,
            progress,
          );
          pass.value = '';
          loadHospitalKey(pair);
          return `Hospital key ${shortKey(hospitalKey.value ?? '')} loaded for this session.`;
        });
      }}
    >
      <h2 id="hk-h">Hospital encryption key</h2>
      <p>
        {hospitalKey.value
          ? `Loaded: ${shortKey(hospitalKey.value)} (kept only until you sign out).`
          : 'Reports are encrypted for your hospital: load its key file to open them.'}
      </p>
      <div class="row">
        <Field label="Hospital key file">
          {(id) => (
            <input
              id={id}
              type="file"
              accept=".json,application/json"
              onChange={(e) => {
                file.value = e.currentTarget.files?.[0] ?? null;
              }}
            />
          )}
        </Field>
        <Field label="Its passphrase">
          {(id) => (
            <input
              id={id}
              type="password"
              autocomplete="off"
              value={pass.value}
              onInput={(e) => {
                pass.value = e.currentTarget.value;
              }}
            />
          )}
        </Field>
      </div>
      <button type="submit" disabled={act.busy.value}>
        Load hospital key
      </button>
      <ActionStatus action={act} />
    </form>
  );
}

function Reports(props: { me: Account }) {
  const c = props.me.client;
  const list = useLoad(() => c.doctor.reports(), [c]);
  useEffect(() => events.onBlock(() => list.reload()), []);
  return (
    <section class="card" aria-labelledby="dr-h" aria-live="polite">
      <h2 id="dr-h">Reports I may read</h2>
      <ErrorBox error={list.error.value} />
      {list.data.value?.length === 0 && (
        <Empty>
          No report is waiting for you. New reports for your specialization appear here by
          themselves.
        </Empty>
      )}
      <ul class="list">
        {(list.data.value ?? []).map((r) => (
          <ReportItem key={r.id} r={r} me={props.me} />
        ))}
      </ul>
    </section>
  );
}

interface OpenedReport {
  text: string;
  docs: { id: string; content: Content | null; error?: string }[];
}

/**
 * Why the doctor reads: a coded purpose (HL7 PurposeOfUse), since the audit trail is stored in
 * plaintext on every node and free text could carry health information.
 */
function PurposeSelect(props: { id: string; value: PurposeCode; set: (v: PurposeCode) => void }) {
  return (
    <select
      id={props.id}
      value={props.value}
      onChange={(e) => props.set(e.currentTarget.value as PurposeCode)}
    >
      {PURPOSE_CODES.map((c) => (
        <option key={c} value={c}>
          {PURPOSES[c]}
        </option>
      ))}
    </select>
  );
}

function ReportItem(props: { r: RecordInfo; me: Account }) {
  const r = props.r;
  const purpose = useSignal<PurposeCode>('TREAT');
  const opened = useSignal<OpenedReport | null>(null);
  const rx = useSignal('');
  const act = useAction();
  const c = props.me.client;
  return (
    <li class="report" data-report={r.id}>
      <div>
        <strong>{r.specialization}</strong> — patient{' '}
        <span class="mono">{shortKey(r.patient)}</span> — {when(r.submittedAt)}{' '}
        <span class={`status ${r.status ?? ''}`}>
          {r.status === 'prescribed' ? 'Prescribed' : 'Pending'}
        </span>{' '}
        <small>
          (
          {r.access === 'CONSENT'
            ? 'shared with your hospital'
            : r.access === 'PRESCRIBER'
              ? 'you prescribed on it'
              : 'sent to your specialization'}
          )
        </small>
      </div>
      {!opened.value && (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void act.run('Opening the report…', async (progress) => {
              const o = await c.doctor.readReport(r.id, purpose.value);
              const docs = await c.session.all<RecordInfo>('record_documents', { id: r.id }, true);
              const out: OpenedReport = {
                text: o.content.type === 'text' ? o.content.text : '(not text)',
                docs: [],
              };
              let i = 0;
              for (const d of docs) {
                try {
                  out.docs.push({
                    id: d.id,
                    content: (await c.doctor.readReport(d.id, purpose.value)).content,
                  });
                } catch (err) {
                  out.docs.push({ id: d.id, content: null, error: (err as Error).message });
                }
                progress(++i / docs.length);
              }
              opened.value = out;
            });
          }}
        >
          <Field label="Purpose of this read">
            {(id) => (
              <PurposeSelect id={id} value={purpose.value} set={(v) => (purpose.value = v)} />
            )}
          </Field>
          <button type="submit" disabled={act.busy.value}>
            Open report
          </button>
        </form>
      )}
      {opened.value && (
        <div class="inner">
          <blockquote class="report-text">{opened.value.text}</blockquote>
          {opened.value.docs.length > 0 && (
            <ul aria-label="Attachments">
              {opened.value.docs.map((d) => (
                <li key={d.id}>
                  {d.content?.type === 'file' ? (
                    <button
                      type="button"
                      class="link"
                      onClick={() =>
                        d.content?.type === 'file' &&
                        download(d.content.name, d.content.data, d.content.mediaType)
                      }
                    >
                      Download {d.content.name} ({formatBytes(d.content.data.length)})
                    </button>
                  ) : (
                    <span>{d.error ?? 'An attachment this portal cannot show'}</span>
                  )}
                </li>
              ))}
            </ul>
          )}
          {r.status !== 'prescribed' && (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                void act.run('Writing the prescription…', async () => {
                  if (rx.value.trim() === '') throw formError('Write the prescription first.');
                  await c.doctor.prescribe({
                    record: r.id,
                    content: { type: 'text', text: rx.value.trim() },
                  });
                  rx.value = '';
                  return 'Prescription written. The patient sees it now.';
                });
              }}
            >
              <Field label="Prescription">
                {(id) => (
                  <textarea
                    id={id}
                    rows={3}
                    value={rx.value}
                    onInput={(e) => {
                      rx.value = e.currentTarget.value;
                    }}
                  />
                )}
              </Field>
              <button type="submit" disabled={act.busy.value}>
                Give prescription
              </button>
            </form>
          )}
        </div>
      )}
      <ActionStatus action={act} />
    </li>
  );
}

/** A record the patient named (by id): opened if the access rules allow, refused in words if not. */
function OpenById(props: { me: Account }) {
  const id = useSignal('');
  const purpose = useSignal<PurposeCode>('TREAT');
  const text = useSignal<string | null>(null);
  const act = useAction();
  return (
    <form
      class="card"
      aria-labelledby="byid-h"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run('Opening the record…', async () => {
          text.value = null;
          const rid = id.value.trim().toLowerCase();
          if (!/^[0-9a-f]{64}$/.test(rid))
            throw formError('Record id: the 64 hexadecimal characters the patient gave you.');
          const o = await props.me.client.doctor.readReport(rid, purpose.value);
          text.value = o.content.type === 'text' ? o.content.text : `(${o.content.type})`;
        });
      }}
    >
      <h2 id="byid-h">Open a record by its id</h2>
      <div class="row">
        <Field label="Record id">
          {(fid) => (
            <input
              id={fid}
              class="mono"
              value={id.value}
              onInput={(e) => {
                id.value = e.currentTarget.value;
              }}
            />
          )}
        </Field>
        <Field label="Purpose">
          {(fid) => (
            <PurposeSelect id={fid} value={purpose.value} set={(v) => (purpose.value = v)} />
          )}
        </Field>
      </div>
      <button type="submit" disabled={act.busy.value}>
        Open record
      </button>
      <ActionStatus action={act} />
      {text.value !== null && <blockquote class="report-text">{text.value}</blockquote>}
    </form>
  );
}
