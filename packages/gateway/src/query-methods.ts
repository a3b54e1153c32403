/**
 * Queries for each role. Every list answers one page, `{ items, cursor? }` (see @ehr/ledger
 * paging.ts): pass `cursor` back for the next page; no cursor means the list is complete. The
 * read guard checks each page's signed read like any other. Directory data (hospitals, doctors, governance) is public. Everything
 * about a patient needs a signed read by that patient (or, for doctors, by that doctor), and
 * reading a body goes through the ledger's access rules and is recorded on chain by this node.
 */
import { EhrError } from '@ehr/core';
import {
  type AccessDecision,
  canRead,
  DEFAULT_PAGE,
  getDoctor,
  getHospital,
  getMember,
  getPatient,
  getProposal,
  listAdmins,
  listMembers,
  listVotes,
  loadChain,
  nextNonce,
  type PageOpts,
  type Proposal,
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
  pageReadableDocuments,
  roleOf,
  type StateScanner,
} from '@ehr/ledger';
import type { Dispatcher } from './dispatcher.ts';
import { toJson } from './json.ts';
import type { ReadGuard } from './read-guard.ts';

export interface QueryService {
  state: StateScanner;
  now(): number;
  consensus(): { voters: string[]; learners: string[] };
  /** The nonce an account's next transaction should carry (after its pending ones). */
  /** This node's pending transactions of an account, in nonce order. */
  pending(key: string): { hash: string; nonce: number; expires: number }[];
  /** A sealed body by payload hash (hex), if this node holds it. */
  payload(hash: string): Promise<Uint8Array | undefined>;
  /** Resolves once this node has applied everything the leader had committed. */
  readBarrier(): Promise<void>;
  /** Records on chain that `reader` read `target`; resolves with the audit transaction hash. */
  recordAccess(reader: string, target: string, purpose: string): Promise<string>;
}

type P = Record<string, unknown>;

const notFound = (code: string, what: string) => new EhrError(code, `${what} not found`, {});

function mustBeReader(reader: string, subject: string, role: string): void {
  if (reader !== subject) {
    throw new EhrError(
      'UNAUTHORIZED',
      `only the ${role} may list this: the read is signed by ${reader.slice(0, 12)}…, not by the ${role} ${subject.slice(0, 12)}…`,
      { reader, subject },
    );
  }
}

export function registerQueryMethods(d: Dispatcher, q: QueryService, guard: ReadGuard): void {
  /** A page request: `limit` (default 100, at most 1000) and the previous page's `cursor`. */
  const lim = (p: P): PageOpts => ({
    limit: (p['limit'] as number | undefined) ?? DEFAULT_PAGE,
    ...(p['cursor'] !== undefined ? { cursor: p['cursor'] as string } : {}),
  });
  const pub = (name: string, fn: (p: P) => Promise<unknown>) =>
    d.register(name, async (params) => toJson(await fn(params as P)));
  const signed = (name: string, fn: (p: P, reader: string) => Promise<unknown>) =>
    d.register(name, async (params) => {
      const p = params as P;
      const reader = guard.check(name, p);
      // Private reads see every write acknowledged before they started (a revoked consent,
      // say), whichever node acknowledged it.
      await q.readBarrier();
      return toJson(await fn(p, reader));
    });

  pub('account_get', async (p) => {
    const key = p['key'] as string;
    const role = (await roleOf(q.state, key)) ?? ((await getMember(q.state, key)) ? 'node' : null);
    // The nonce is the committed one: what this node holds pending may never commit (another
    // node's mempool may hold something else for the same slot), so clients sign from the
    // committed nonce plus their own transactions in flight.
    const nonce = await nextNonce(q.state, key);
    return { key, nonce, role, pending: q.pending(key) };
  });
  pub('chain_config', () => loadChain(q.state));
  pub('hospital_list', (p) => pageHospitals(q.state, lim(p)));
  pub('hospital_get', async (p) => {
    const h = await getHospital(q.state, p['id'] as string);
    if (!h) throw notFound('UNKNOWN_HOSPITAL', `hospital "${p['id']}"`);
    return h;
  });
  pub('doctor_list', async (p) => {
    const h = p['hospital'] as string;
    if (!(await getHospital(q.state, h))) throw notFound('UNKNOWN_HOSPITAL', `hospital "${h}"`);
    return pageDoctors(q.state, h, lim(p));
  });
  pub('doctor_get', async (p) => {
    const doc = await getDoctor(q.state, p['key'] as string);
    if (!doc) throw notFound('UNKNOWN_ACCOUNT', `doctor ${(p['key'] as string).slice(0, 12)}…`);
    return doc;
  });
  pub('gov_proposals', (p) =>
    pageProposals(q.state, p['status'] as Proposal['status'] | undefined, lim(p)),
  );
  pub('gov_proposal', async (p) => {
    const id = p['id'] as string;
    const prop = await getProposal(q.state, id);
    if (!prop) throw notFound('UNKNOWN_PROPOSAL', `proposal ${id.slice(0, 12)}…`);
    return { ...prop, votes: await listVotes(q.state, id) };
  });
  pub('gov_validators', async () => {
    const members = await listMembers(q.state, { limit: 10_000 });
    const c = q.consensus();
    return {
      onChain: members.filter((m) => m.role === 'validator').map((m) => m.node),
      voters: c.voters,
      learners: c.learners,
    };
  });
  pub('gov_members', async () => ({
    members: await listMembers(q.state, { limit: 10_000 }),
    admins: await listAdmins(q.state, { limit: 10_000 }),
  }));

  signed('patient_reports', async (p, reader) => {
    mustBeReader(reader, p['patient'] as string, 'patient');
    return pagePatientReports(q.state, reader, lim(p));
  });
  signed('patient_documents', async (p, reader) => {
    mustBeReader(reader, p['patient'] as string, 'patient');
    const report = p['report'] as string | undefined;
    return pagePatientDocuments(q.state, reader, { ...lim(p), ...(report ? { report } : {}) });
  });
  signed('patient_prescriptions', async (p, reader) => {
    mustBeReader(reader, p['patient'] as string, 'patient');
    return pagePatientPrescriptions(q.state, reader, lim(p));
  });
  signed('patient_consents', async (p, reader) => {
    mustBeReader(reader, p['patient'] as string, 'patient');
    return pagePatientConsents(q.state, reader, q.now(), lim(p));
  });
  signed('patient_audit', async (p, reader) => {
    mustBeReader(reader, p['patient'] as string, 'patient');
    const events = await pagePatientAudit(q.state, reader, lim(p));
    // Name the readers the patient can recognise (doctors), not just their keys.
    const items = await Promise.all(
      events.items.map(async (e) => {
        const doc = await getDoctor(q.state, e.reader);
        return {
          ...e,
          readerName: doc?.name ?? (e.reader === reader ? 'you' : null),
          readerHospital: doc?.hospital ?? null,
        };
      }),
    );
    return { ...events, items };
  });

  // What a doctor is listed is what the access rules let them open (ledger: listDoctorReports).
  const mustBeDoctor = async (p: P, reader: string) => {
    mustBeReader(reader, p['doctor'] as string, 'doctor');
    if (!(await getDoctor(q.state, reader)))
      throw notFound('UNKNOWN_ACCOUNT', `doctor ${reader.slice(0, 12)}…`);
  };
  signed('doctor_reports', async (p, reader) => {
    await mustBeDoctor(p, reader);
    return pageDoctorReports(q.state, reader, q.now(), lim(p));
  });
  signed('doctor_patients', async (p, reader) => {
    await mustBeDoctor(p, reader);
    return pageDoctorPatients(q.state, reader, q.now(), lim(p));
  });

  /** Access rules, then the body, then the audit record; denial says why. */
  const serve = async (reader: string, id: string, purpose: string, kinds: string[]) => {
    const decision: AccessDecision = await canRead(q.state, reader, id, q.now());
    if (!decision.allowed || !decision.target) {
      throw new EhrError(decision.reason, decision.message, { reason: decision.reason, id });
    }
    const t = decision.target;
    // Checked before anything is served or recorded.
    if (!kinds.includes(t.type)) {
      throw new EhrError(
        'UNKNOWN_RECORD',
        `${id.slice(0, 12)}… is a ${t.type}, not a ${kinds.join(' or ')}`,
        { id, type: t.type },
      );
    }
    const body = await q.payload(t.payloadHash);
    if (!body) {
      throw new EhrError(
        'UNKNOWN_PAYLOAD',
        `this node does not hold the body of ${id.slice(0, 12)}…`,
        { payloadHash: t.payloadHash },
      );
    }
    // The audit trail shows a patient who else read their data; their own reads are not events.
    const audit =
      decision.reason === 'PATIENT_OWN' ? null : await q.recordAccess(reader, id, purpose);
    return { decision, target: t, body, audit };
  };
  const purposeOf = (p: P) => (p['purpose'] as string | undefined) ?? 'TREAT';

  signed('record_documents', async (p, reader) => {
    const id = p['id'] as string;
    const { decision, page } = await pageReadableDocuments(q.state, reader, id, q.now(), lim(p));
    if (!decision.allowed || !decision.target) {
      throw new EhrError(decision.reason, decision.message, { reason: decision.reason, id });
    }
    if (decision.target.type !== 'report') {
      throw new EhrError(
        'UNKNOWN_RECORD',
        `${id.slice(0, 12)}… is a ${decision.target.type}, not a report`,
        {
          id,
        },
      );
    }
    return page;
  });
  signed('record_get', async (p, reader) => {
    const { decision, target, body, audit } = await serve(reader, p['id'] as string, purposeOf(p), [
      'report',
      'document',
    ]);
    if (target.type === 'prescription' || target.type === 'profile') throw new Error('unreachable');
    return {
      record: target.record,
      body,
      wrappedKey: decision.wrappedKey,
      reason: decision.reason,
      audit,
    };
  });
  signed('prescription_get', async (p, reader) => {
    const { decision, target, body, audit } = await serve(reader, p['id'] as string, purposeOf(p), [
      'prescription',
    ]);
    if (target.type !== 'prescription') throw new Error('unreachable');
    return {
      prescription: target.prescription,
      body,
      wrappedKey: decision.wrappedKey,
      reason: decision.reason,
      audit,
    };
  });
  signed('patient_profile', async (p, reader) => {
    const patient = p['patient'] as string;
    if (!(await getPatient(q.state, patient)))
      throw notFound('UNKNOWN_ACCOUNT', `patient ${patient.slice(0, 12)}…`);
    const { decision, body, audit } = await serve(reader, patient, purposeOf(p), ['profile']);
    return { patient, body, wrappedKey: decision.wrappedKey, reason: decision.reason, audit };
  });
}
