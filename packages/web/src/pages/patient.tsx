/**
 * Patient: sign up, hospitals (share with optional expiry, revoke), a report with attachments
 * (size checked against the chain's limit before anything is sent), my reports (Pending /
 * Prescribed by Dr. X, updated live), the audit trail of who read what.
 */
import type {
  AuditEventInfo,
  HospitalChoice,
  PrescriptionView,
  RecordInfo,
  ReportView,
} from '@ehr/api';
import { isPurposeCode, PURPOSES } from '@ehr/core';
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import type { Account } from '../account.ts';
import { download, formatBytes, shortKey, when } from '../download.ts';
import { formError } from '../messages.ts';
import { chainConfig, events } from '../net.ts';
import { ActionStatus, Empty, ErrorBox, Field, Scroll, useAction, useLoad } from '../ui.tsx';

/** Room for the sealed container around a file's bytes (names, nonce, tag, encoding). */
const SEAL_OVERHEAD = 1024;

export function PatientPage(props: { me: Account }) {
  const c = props.me.client;
  const acct = useLoad(() => c.account(), [c]);
  const role = acct.data.value?.role;
  if (acct.loading.value && !acct.data.value) return <p>Loading your account…</p>;
  if (acct.error.value) return <ErrorBox error={acct.error.value} />;
  if (role !== 'patient') {
    if (role)
      return (
        <ErrorBox
          error={{
            words: `This key is registered as ${role}, not as a patient. Sign out and use your patient key.`,
            code: 'UNAUTHORIZED',
            detail: '',
          }}
        />
      );
    return <SignUp me={props.me} onDone={acct.reload} />;
  }
  return <PatientHome me={props.me} />;
}

function SignUp(props: { me: Account; onDone: () => void }) {
  const name = useSignal('');
  const birth = useSignal('');
  const act = useAction();
  return (
    <form
      class="card"
      aria-labelledby="signup-h"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run('Signing you up…', async () => {
          if (name.value.trim() === '') throw formError('Name: enter your name.');
          await props.me.client.patient.register({
            name: name.value.trim(),
            ...(birth.value ? { birthDate: birth.value } : {}),
          });
          props.onDone();
          return 'You are signed up.';
        });
      }}
    >
      <h2 id="signup-h">Sign up as a patient</h2>
      <p>
        Your profile is encrypted in this browser: only you, and hospitals you share with, can read
        it.
      </p>
      <Field label="Your name">
        {(id) => (
          <input
            id={id}
            autocomplete="name"
            value={name.value}
            onInput={(e) => {
              name.value = e.currentTarget.value;
            }}
          />
        )}
      </Field>
      <Field label="Birth date (optional)">
        {(id) => (
          <input
            id={id}
            type="date"
            value={birth.value}
            onInput={(e) => {
              birth.value = e.currentTarget.value;
            }}
          />
        )}
      </Field>
      <button type="submit" disabled={act.busy.value}>
        Sign up
      </button>
      <ActionStatus action={act} />
    </form>
  );
}

function PatientHome(props: { me: Account }) {
  const c = props.me.client;
  const hospitals = useLoad(() => c.patient.hospitalChoices(), [c]);
  const reports = useLoad(() => c.patient.reports(), [c]);
  const prescriptions = useLoad(() => c.patient.prescriptions(), [c]);
  const audit = useLoad(() => c.patient.audit(), [c]);
  useEffect(
    () =>
      events.onBlock(() => {
        reports.reload();
        prescriptions.reload();
        hospitals.reload();
        audit.reload();
      }),
    [],
  );
  return (
    <>
      <SubmitReport me={props.me} hospitals={hospitals.data.value ?? []} onDone={reports.reload} />
      <MyReports
        me={props.me}
        reports={reports.data.value}
        prescriptions={prescriptions.data.value ?? []}
      />
      <ErrorBox error={reports.error.value ?? prescriptions.error.value} />
      <Hospitals me={props.me} list={hospitals.data.value} reload={hospitals.reload} />
      <ErrorBox error={hospitals.error.value} />
      <Audit list={audit.data.value} />
      <ErrorBox error={audit.error.value} />
    </>
  );
}

function SubmitReport(props: { me: Account; hospitals: HospitalChoice[]; onDone: () => void }) {
  const hospital = useSignal('');
  const spec = useSignal('');
  const text = useSignal('');
  const files = useSignal<File[]>([]);
  const over = useSignal(false);
  const limit = useLoad(() => chainConfig().then((c) => c.limits.maxDocumentBytes), []);
  const act = useAction();
  const active = props.hospitals.filter((h) => h.active);
  const h = active.find((x) => x.id === hospital.value) ?? active[0];
  const specs = h?.specializations ?? [];
  const s = specs.includes(spec.value) ? spec.value : (specs[0] ?? '');
  const max = limit.data.value;
  const add = (list: FileList | null | undefined) => {
    if (list) files.value = [...files.value, ...Array.from(list)];
  };
  return (
    <form
      class="card"
      aria-labelledby="report-h"
      onSubmit={(e) => {
        e.preventDefault();
        // What was already sent, so a retry after a busy network never sends it twice.
        let sent: string | null = null;
        const attached = new Set<number>();
        void act.run('Encrypting and sending your report…', async (progress) => {
          if (!h) throw formError('Choose a hospital.');
          if (text.value.trim() === '') throw formError('Describe your problem in the text box.');
          const m = max ?? (await chainConfig()).limits.maxDocumentBytes;
          const big = files.value.filter((f) => f.size + SEAL_OVERHEAD > m);
          if (big.length > 0)
            throw formError(
              `${big.map((f) => `${f.name} (${formatBytes(f.size)})`).join(', ')}: larger than this network accepts (at most ${formatBytes(m - SEAL_OVERHEAD)} per file). Nothing was sent.`,
              'FILE_TOO_LARGE',
            );
          const steps = 1 + files.value.length;
          progress(0);
          sent ??= (
            await props.me.client.patient.submitReport({
              content: { type: 'text', text: text.value },
              hospital: h.id,
              specialization: s,
            })
          ).hash;
          const report = sent;
          let done = 1 + attached.size;
          progress(done / steps);
          for (const [i, f] of files.value.entries()) {
            if (attached.has(i)) continue;
            const data = new Uint8Array(await f.arrayBuffer());
            await props.me.client.patient.attachDocument({
              content: {
                type: 'file',
                name: f.name,
                mediaType: f.type || 'application/octet-stream',
                data,
              },
              report,
            });
            attached.add(i);
            progress(++done / steps);
          }
          text.value = '';
          files.value = [];
          props.onDone();
          return `Report sent to ${h.name} (${s})${steps > 1 ? ` with ${steps - 1} attachment(s)` : ''}.`;
        });
      }}
    >
      <h2 id="report-h">Submit a report</h2>
      {active.length === 0 && (
        <Empty>No hospital is registered yet. Ask your hospital’s administrator.</Empty>
      )}
      <div class="row">
        <Field label="Hospital">
          {(id) => (
            <select
              id={id}
              value={h?.id}
              onChange={(e) => {
                hospital.value = e.currentTarget.value;
              }}
            >
              {active.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Specialization">
          {(id) => (
            <select
              id={id}
              value={s}
              onChange={(e) => {
                spec.value = e.currentTarget.value;
              }}
            >
              {specs.map((x) => (
                <option key={x} value={x}>
                  {x}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <Field label="What is the problem?">
        {(id) => (
          <textarea
            id={id}
            rows={4}
            value={text.value}
            onInput={(e) => {
              text.value = e.currentTarget.value;
            }}
          />
        )}
      </Field>
      <Field
        label="Attachments (receipts, scans: images or PDFs)"
        hint={
          max
            ? `Up to ${formatBytes(max - SEAL_OVERHEAD)} per file. You can also drop files on this box.`
            : undefined
        }
      >
        {(id, d) => (
          <fieldset
            aria-label="Drop files here"
            class={`drop ${over.value ? 'over' : ''}`}
            onDragOver={(e) => {
              e.preventDefault();
              over.value = true;
            }}
            onDragLeave={() => {
              over.value = false;
            }}
            onDrop={(e) => {
              e.preventDefault();
              over.value = false;
              add(e.dataTransfer?.files);
            }}
          >
            <input
              id={id}
              type="file"
              multiple
              accept="image/*,application/pdf"
              aria-describedby={d}
              onChange={(e) => {
                add(e.currentTarget.files);
                e.currentTarget.value = '';
              }}
            />
          </fieldset>
        )}
      </Field>
      {files.value.length > 0 && (
        <ul aria-label="Files to attach">
          {files.value.map((f, i) => (
            <li key={`${f.name}-${i}`}>
              {f.name} — {formatBytes(f.size)}
              {max && f.size + SEAL_OVERHEAD > max ? <strong class="bad"> too large</strong> : null}{' '}
              <button
                type="button"
                class="small secondary"
                onClick={() => {
                  files.value = files.value.filter((_, j) => j !== i);
                }}
              >
                Remove {f.name}
              </button>
            </li>
          ))}
        </ul>
      )}
      <button type="submit" disabled={act.busy.value}>
        Send report
      </button>
      <ActionStatus action={act} />
    </form>
  );
}

/** The patient's own attachments: opened (and decrypted) here when asked for. */
function Documents(props: { me: Account; docs: RecordInfo[] }) {
  const act = useAction();
  return (
    <div>
      <ul aria-label="Attachments">
        {props.docs.map((d, i) => (
          <li key={d.id}>
            Attachment {i + 1} ({formatBytes(d.payloadSize)} sealed){' '}
            <button
              type="button"
              class="small secondary"
              disabled={act.busy.value}
              onClick={() =>
                void act.run('Opening the attachment…', async () => {
                  const o = await props.me.client.patient.readRecord(d.id, 'PATRQT');
                  if (o.content.type !== 'file') throw formError('This attachment is not a file.');
                  download(o.content.name, o.content.data, o.content.mediaType);
                })
              }
            >
              Download attachment {i + 1}
            </button>
          </li>
        ))}
      </ul>
      <ActionStatus action={act} />
    </div>
  );
}

function MyReports(props: {
  me: Account;
  reports: ReportView[] | null;
  prescriptions: PrescriptionView[];
}) {
  return (
    <section class="card" aria-labelledby="reports-h" aria-live="polite">
      <h2 id="reports-h">My reports</h2>
      {props.reports?.length === 0 && (
        <Empty>You have not sent a report yet. Use the form above.</Empty>
      )}
      <ul class="list">
        {(props.reports ?? []).map((r) => {
          const rx = props.prescriptions.filter((p) => p.record === r.id);
          return (
            <li key={r.id} class="report" data-report={r.id}>
              <div>
                <strong>{r.specialization}</strong> at {r.hospital} — {when(r.submittedAt)}{' '}
                <span class={`status ${rx.length > 0 ? 'prescribed' : 'pending'}`}>
                  {rx.length > 0 ? `Prescribed by Dr. ${rx[0]!.doctorName}` : 'Pending'}
                </span>
              </div>
              {rx.map((p) => (
                <blockquote key={p.id} class="prescription">
                  {p.content?.type === 'text'
                    ? p.content.text
                    : (p.error ?? 'A prescription in a format this portal cannot show.')}
                  <footer>
                    Dr. {p.doctorName}, {p.hospital}, {when(p.writtenAt)}
                  </footer>
                </blockquote>
              ))}
              <details>
                <summary>Record id (to give a doctor)</summary>
                <span class="mono">{r.id}</span>
              </details>
              {r.documents.length > 0 && <Documents me={props.me} docs={r.documents} />}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function Hospitals(props: { me: Account; list: HospitalChoice[] | null; reload: () => void }) {
  const act = useAction();
  const expiry = useSignal<Record<string, string>>({});
  return (
    <section class="card" aria-labelledby="phosp-h">
      <h2 id="phosp-h">Hospitals and sharing</h2>
      <p>Sharing lets a hospital’s doctors open all your records; revoking stops it at once.</p>
      {props.list?.length === 0 && <Empty>No hospital is registered yet.</Empty>}
      <ul class="list">
        {(props.list ?? []).map((h) => {
          const shared = h.consent && h.consent.revokedAt === null && (h.consent.inForce ?? true);
          return (
            <li key={h.id}>
              <strong>{h.name}</strong> — {h.specializations.join(', ')}{' '}
              <span class="status">
                {shared
                  ? `Shared${h.consent?.expiresAt ? ` until ${when(h.consent.expiresAt)}` : ''}`
                  : 'Not shared'}
              </span>
              <div class="row">
                {!shared && (
                  <Field label={`Share with ${h.name} until (optional)`}>
                    {(id) => (
                      <input
                        id={id}
                        type="date"
                        value={expiry.value[h.id] ?? ''}
                        onInput={(e) => {
                          expiry.value = { ...expiry.value, [h.id]: e.currentTarget.value };
                        }}
                      />
                    )}
                  </Field>
                )}
                {!shared ? (
                  <button
                    type="button"
                    disabled={act.busy.value}
                    onClick={() =>
                      void act.run(`Sharing with ${h.name}…`, async () => {
                        const d = expiry.value[h.id];
                        const expiresAt = d ? new Date(`${d}T23:59:59`).getTime() : undefined;
                        const r = await props.me.client.patient.share({
                          hospital: h.id,
                          ...(expiresAt ? { expiresAt } : {}),
                        });
                        props.reload();
                        return `Shared ${r.keysShared} record key(s) with ${h.name}.`;
                      })
                    }
                  >
                    Share with {h.name}
                  </button>
                ) : (
                  <button
                    type="button"
                    class="danger"
                    disabled={act.busy.value}
                    onClick={() =>
                      void act.run(`Revoking ${h.name}…`, async () => {
                        await props.me.client.patient.revoke(h.id);
                        props.reload();
                        return `${h.name} can no longer open your records.`;
                      })
                    }
                  >
                    Revoke {h.name}
                  </button>
                )}
              </div>
            </li>
          );
        })}
      </ul>
      <ActionStatus action={act} />
    </section>
  );
}

function Audit(props: { list: AuditEventInfo[] | null }) {
  return (
    <section class="card" aria-labelledby="audit-h">
      <h2 id="audit-h">Who read my records</h2>
      {props.list?.length === 0 && <Empty>Nobody has read your records yet.</Empty>}
      {props.list && props.list.length > 0 && (
        <Scroll label="Audit trail table (scrolls sideways)">
          <table>
            <caption class="sr-only">Audit trail: every read of your data</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Why</th>
                <th scope="col">What</th>
                <th scope="col">Served by node</th>
              </tr>
            </thead>
            <tbody>
              {props.list.map((a) => (
                <tr key={a.id} class="audit-row">
                  <td>{when(a.readAt)}</td>
                  <td>
                    {a.readerName
                      ? `${a.readerName}${a.readerHospital ? ` (${a.readerHospital})` : ''}`
                      : shortKey(a.reader)}
                  </td>
                  <td>{isPurposeCode(a.purpose) ? PURPOSES[a.purpose] : a.purpose}</td>
                  <td class="mono">{shortKey(a.target)}</td>
                  <td class="mono">{shortKey(a.node)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
    </section>
  );
}
