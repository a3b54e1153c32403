/**
 * Query indexes derived from state: what the paged lists (query.ts) range-scan so that every page
 * is one short scan, however long the chain. They live under `qx/`, apart from the state the
 * rules read and the state hash covers: adding or changing one never changes a block, so a chain
 * written before an index existed replays to the same hashes, and the index is rebuilt from the
 * state (see `rebuildIndexWrites`). The store writes a block's derived index writes in the same
 * LevelDB batch as its state writes (MapState does the same in memory), so state and index never
 * disagree.
 *
 * Derivation is a pure function of (block write set, state before it, index before it):
 * - `qx/patient-kind/<patient>/<kind>/<pos>/<record>`: a patient's reports (or documents) alone,
 *   oldest first (the state's `idx/patient-records` mixes both kinds);
 * - `qx/patient-report-ids/<patient>`: the ids of a patient's reports, oldest first, in one
 *   value (the role lists decide every report of a patient: one read, not a range scan, which
 *   costs ~20x more in LevelDB; it grows with the patient's own reports only);
 * - `qx/consents-live/<hospital>/<patient>`: consents to a hospital not revoked (expiry is a
 *   matter of time, checked per item);
 * - `qx/pending-patients/<hospital>/<specialization>/<patient>`: how many pending reports a
 *   patient has there (a count; the key is gone at zero);
 * - `qx/doctor-prescribed/<doctor>/<pos>/<record>`: each report a doctor prescribed on, once, at
 *   their first prescription on it (the state's `idx/doctor-records` has one entry per
 *   prescription); only where the rules keep the prescriber's access (`prescriber/` keys);
 * - `qx/doctor-prescribed-patients/<doctor>/<patient>`: the patients of those reports;
 * - `qx/proposals/<createdAt>/<id>` and `qx/proposals-status/<status>/<createdAt>/<id>`:
 *   governance proposals by time (the state keys them by id).
 */
import type { Value } from '@ehr/core';
import type { HealthRecord, Proposal } from './model.ts';

export const INDEX_PREFIX = 'qx/';
/** Bumped when the derivation changes: a store with another version rebuilds its index. */
export const INDEX_VERSION = 2;

export const isIndexKey = (key: string): boolean => key.startsWith(INDEX_PREFIX);

type Write = [key: string, value: Value | null];
/** Synchronous reads of the state (or index) as it was before the writes. */
export type SyncRead = (key: string) => Value | undefined;

const time15 = (t: number): string => String(t).padStart(15, '0');

export const qx = {
  patientKind: (patient: string, kind: string, pos: string, record: string) =>
    `qx/patient-kind/${patient}/${kind}/${pos}/${record}`,
  patientReportIds: (patient: string) => `qx/patient-report-ids/${patient}`,
  consentsLive: (hospital: string, patient: string) => `qx/consents-live/${hospital}/${patient}`,
  pendingPatients: (hospital: string, specialization: string, patient: string) =>
    `qx/pending-patients/${hospital}/${specialization}/${patient}`,
  doctorPrescribed: (doctor: string, pos: string, record: string) =>
    `qx/doctor-prescribed/${doctor}/${pos}/${record}`,
  doctorPrescribedPatients: (doctor: string, patient: string) =>
    `qx/doctor-prescribed-patients/${doctor}/${patient}`,
  proposals: (createdAt: number, id: string) => `qx/proposals/${time15(createdAt)}/${id}`,
  proposalsStatus: (status: string, createdAt: number, id: string) =>
    `qx/proposals-status/${status}/${time15(createdAt)}/${id}`,
} as const;

export const qxPrefixes = {
  patientKind: (patient: string, kind: 'report' | 'document') =>
    `qx/patient-kind/${patient}/${kind}/`,
  consentsLive: (hospital: string) => `qx/consents-live/${hospital}/`,
  pendingPatients: (hospital: string, specialization: string) =>
    `qx/pending-patients/${hospital}/${specialization}/`,
  doctorPrescribed: (doctor: string) => `qx/doctor-prescribed/${doctor}/`,
  doctorPrescribedPatients: (doctor: string) => `qx/doctor-prescribed-patients/${doctor}/`,
  proposals: () => 'qx/proposals/',
  proposalsStatus: (status: string) => `qx/proposals-status/${status}/`,
} as const;

/**
 * The index writes that go with a block's state writes. `state` and `index` read what was there
 * before the block (the writes are not applied yet). Deterministic: same input, same output.
 */
export function deriveIndexWrites(writes: Iterable<Write>, state: SyncRead, index: SyncRead) {
  const out = new Map<string, Value | null>();
  const written = new Map<string, Value | null>();
  for (const [k, v] of writes) written.set(k, v);
  /** A value as of after the block. */
  const after = (k: string): Value | undefined => {
    const w = written.get(k);
    return w === undefined ? state(k) : w === null ? undefined : w;
  };
  const indexNow = (k: string): Value | undefined => {
    const w = out.get(k);
    return w === undefined ? index(k) : w === null ? undefined : w;
  };
  // First prescription position per doctor and report in this block.
  const firstPos = new Map<string, string>();
  const pendingDelta = new Map<string, number>();
  // New reports per patient: [pos, id].
  const newReports = new Map<string, [string, string][]>();

  for (const [k, v] of written) {
    const parts = k.split('/');
    switch (parts[0]) {
      case 'record': {
        if (v === null) break;
        const r = v as unknown as HealthRecord;
        out.set(qx.patientKind(r.patient, r.kind, r.pos, r.id), r.id);
        if (r.kind === 'report' && state(k) === undefined) {
          const list = newReports.get(r.patient) ?? [];
          list.push([r.pos, r.id]);
          newReports.set(r.patient, list);
        }
        break;
      }
      case 'consent': {
        const [, patient, hospital] = parts as [string, string, string];
        const c = v as { revokedAt: number | null } | null;
        if (c !== null && c.revokedAt === null)
          out.set(qx.consentsLive(hospital, patient), patient);
        else out.set(qx.consentsLive(hospital, patient), null);
        break;
      }
      case 'proposal': {
        if (v === null) break;
        const p = v as unknown as Proposal;
        const old = state(k) as unknown as Proposal | undefined;
        if (old && old.status !== p.status) {
          out.set(qx.proposalsStatus(old.status, old.createdAt, old.id), null);
        }
        out.set(qx.proposals(p.createdAt, p.id), p.id);
        out.set(qx.proposalsStatus(p.status, p.createdAt, p.id), p.id);
        break;
      }
      case 'idx': {
        if (parts[1] === 'pending') {
          // idx/pending/<hospital>/<specialization>/<pos>/<record>
          const [, , hospital, spec, , record] = parts as string[];
          const existed = state(k) !== undefined;
          const delta = v === null ? (existed ? -1 : 0) : existed ? 0 : 1;
          if (delta === 0) break;
          const r = after(keyOfRecord(record!)) as unknown as HealthRecord | undefined;
          if (!r) break;
          const pk = qx.pendingPatients(hospital!, spec!, r.patient);
          pendingDelta.set(pk, (pendingDelta.get(pk) ?? 0) + delta);
        } else if (parts[1] === 'doctor-records' && v !== null) {
          // idx/doctor-records/<doctor>/<pos>/<record>
          const [, , doctor, pos, record] = parts as string[];
          const fk = `${doctor}/${record}`;
          const seen = firstPos.get(fk);
          if (seen === undefined || pos! < seen) firstPos.set(fk, pos!);
        }
        break;
      }
    }
  }
  for (const [patient, list] of newReports) {
    const lk = qx.patientReportIds(patient);
    const cur = (indexNow(lk) as string[] | undefined) ?? [];
    list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    out.set(lk, [...cur, ...list.map(([, id]) => id)]);
  }
  for (const [pk, delta] of pendingDelta) {
    const n = ((indexNow(pk) as number | undefined) ?? 0) + delta;
    out.set(pk, n > 0 ? n : null);
  }
  for (const [fk, pos] of firstPos) {
    const [doctor, record] = fk.split('/') as [string, string];
    const prescriber = `prescriber/${record}/${doctor}`;
    // Listed once: at the first prescription that gave the doctor the prescriber's access.
    if (state(prescriber) !== undefined || after(prescriber) === undefined) continue;
    const r = after(keyOfRecord(record)) as unknown as HealthRecord | undefined;
    if (!r) continue;
    out.set(qx.doctorPrescribed(doctor, pos, record), record);
    out.set(qx.doctorPrescribedPatients(doctor, r.patient), r.patient);
  }
  return [...out.entries()] as Write[];
}

const keyOfRecord = (id: string): string => `record/${id}`;

/** State prefixes the index is derived from (a rebuild scans exactly these). */
export const INDEXED_STATE_PREFIXES = [
  'record/',
  'consent/',
  'proposal/',
  'idx/pending/',
  'idx/doctor-records/',
] as const;

/**
 * The whole index from the state alone, as batches of writes (for a store whose index is missing
 * or of another version; the caller clears the old index first and writes each batch in turn).
 * Memory is bounded by `chunk` plus the pending counts of one pass and the reports one doctor
 * prescribed on.
 */
export async function* rebuildIndexWrites(
  state: {
    get(key: string): Promise<Value | undefined>;
    scan(prefix: string, opts?: { after?: string; limit?: number }): AsyncIterable<[string, Value]>;
  },
  chunk = 5_000,
): AsyncGenerator<Write[]> {
  const none = (): undefined => undefined;
  // Report id lists are built from the written patient-kind index below, not per chunk.
  const derive = (batch: Write[]) =>
    deriveIndexWrites(batch, none, none).filter(([k]) => !k.startsWith('qx/patient-report-ids/'));
  for (const prefix of ['record/', 'consent/', 'proposal/']) {
    let batch: Write[] = [];
    for await (const entry of state.scan(prefix)) {
      batch.push(entry);
      if (batch.length >= chunk) {
        yield derive(batch);
        batch = [];
      }
    }
    if (batch.length > 0) yield derive(batch);
  }
  {
    // qx/patient-kind/<patient>/<kind>/<pos>/<id>, as written by the batches above.
    let batch: Write[] = [];
    let patient = '';
    let ids: string[] = [];
    const flush = () => {
      if (ids.length > 0) batch.push([qx.patientReportIds(patient), ids]);
      ids = [];
    };
    for await (const [k] of state.scan('qx/patient-kind/')) {
      const [, , p, kind, , id] = k.split('/') as string[];
      if (p !== patient) {
        flush();
        patient = p!;
      }
      if (kind === 'report') ids.push(id!);
      if (batch.length >= chunk) {
        yield batch;
        batch = [];
      }
    }
    flush();
    if (batch.length > 0) yield batch;
  }
  const counts = new Map<string, number>();
  for await (const [k] of state.scan('idx/pending/')) {
    const [, , hospital, spec, , record] = k.split('/') as string[];
    const r = (await state.get(keyOfRecord(record!))) as unknown as HealthRecord | undefined;
    if (!r) continue;
    const pk = qx.pendingPatients(hospital!, spec!, r.patient);
    counts.set(pk, (counts.get(pk) ?? 0) + 1);
  }
  let batch: Write[] = [...counts.entries()];
  counts.clear();
  let doctor = '';
  let seen = new Set<string>();
  for await (const [k] of state.scan('idx/doctor-records/')) {
    const [, , d, pos, record] = k.split('/') as string[];
    if (d !== doctor) {
      doctor = d!;
      seen = new Set();
    }
    if (seen.has(record!)) continue;
    seen.add(record!);
    if ((await state.get(`prescriber/${record}/${doctor}`)) === undefined) continue;
    const r = (await state.get(keyOfRecord(record!))) as unknown as HealthRecord | undefined;
    if (!r) continue;
    batch.push([qx.doctorPrescribed(doctor, pos!, record!), record!]);
    batch.push([qx.doctorPrescribedPatients(doctor, r.patient), r.patient]);
    if (batch.length >= chunk) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
