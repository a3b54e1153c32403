/**
 * What a patient does: sign up with a sealed profile, submit sealed reports and documents for a
 * hospital, share everything with a hospital (its key for every existing record is re-wrapped
 * here from the patient's own), revoke, and read their records, prescriptions and audit trail.
 */
import { EhrError, fromHex, type PurposeCode } from '@ehr/core';
import { Directory, MAX_LIMIT } from './directory.ts';
import type {
  AuditEventInfo,
  ConsentInfo,
  HospitalInfo,
  Opened,
  PrescriptionInfo,
  RecordInfo,
  SharedResult,
  TxOutcome,
} from './ehr-types.ts';
import type { Content } from './sealing.ts';

/** Wrapped keys one transaction may carry (the genesis default of limits.maxListItems). */
export const KEYS_PER_TX = 256;

export interface HospitalChoice extends HospitalInfo {
  /** This patient's consent for the hospital, if any. */
  consent: ConsentInfo | null;
}

export interface ReportView extends RecordInfo {
  documents: RecordInfo[];
}

export interface PrescriptionView extends PrescriptionInfo {
  /** The opened body, or null with `error` saying why it could not be opened. */
  content: Content | null;
  error?: string;
}

export const consentInForce = (c: ConsentInfo, now = Date.now()): boolean =>
  c.inForce ?? (c.revokedAt === null && (c.expiresAt === null || now < c.expiresAt));

export class PatientOps extends Directory {
  /** Signs up: the profile (any JSON: name, birth date, …) is sealed for the patient only. */
  async register(profile: unknown): Promise<TxOutcome> {
    const sealed = await this.s.seal({ type: 'json', value: profile }, [this.s.publicKey]);
    return this.s.submit(
      'patient.register',
      {
        profileHash: sealed.payloadHash,
        profileSize: sealed.payloadSize,
        profileKey: sealed.wrappedKeys[0]!,
      },
      [sealed.body],
    );
  }

  /** The patient's own profile, opened (the serving node records the read). */
  async profile(purpose: PurposeCode = 'PATRQT'): Promise<Opened<{ patient: string }>> {
    const r = await this.s.read<{
      body: string;
      wrappedKey: string | null;
      reason: string;
      audit: string | null;
    }>('patient_profile', { patient: this.s.key, purpose });
    return {
      item: { patient: this.s.key },
      content: this.s.open(r.body, r.wrappedKey, 'account', 'profile'),
      reason: r.reason,
      audit: r.audit ?? null,
    };
  }

  consents(limit = MAX_LIMIT): Promise<ConsentInfo[]> {
    return this.s.all<ConsentInfo>('patient_consents', { patient: this.s.key }, true, limit);
  }

  /**
   * The consents as the session remembers them: only this account changes them, so they hold
   * while the session's nonce count does (Session.ownState). Whether each is in force is decided
   * at use, from its expiry, not from the gateway's answer at the time it was read.
   */
  private async ownConsents(): Promise<ConsentInfo[]> {
    const list = await this.s.ownState('consents', () => this.consents());
    return list.map(({ inForce: _at_read_time, ...c }) => c);
  }

  /** Hospitals to choose from, each with this patient's consent for it. */
  async hospitalChoices(): Promise<HospitalChoice[]> {
    const [hospitals, consents] = await Promise.all([this.hospitals(), this.consents()]);
    const byHospital = new Map(consents.map((c) => [c.hospital, c]));
    return hospitals.map((h) => ({ ...h, consent: byHospital.get(h.id) ?? null }));
  }

  /**
   * Hospitals the patient shares everything with (consent in force, scope "all"): new records
   * carry a key for them too, so sharing keeps covering what is submitted later.
   */
  private async sharedHospitalKeys(except: string): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const c of await this.ownConsents()) {
      if (c.hospital === except || c.scope !== 'all' || !consentInForce(c)) continue;
      const h = await this.cachedHospital(c.hospital).catch(() => undefined);
      if (h?.active) out.set(h.id, fromHex(h.encryptionKey));
    }
    return out;
  }

  /** Seals `content` for the patient, `hospital` and the shared hospitals; the keys by hospital. */
  private async sealForHospitals(content: Content, hospital: string | null) {
    const chosen = hospital === null ? null : await this.activeHospital(hospital);
    const targets = await this.sharedHospitalKeys(hospital ?? '');
    if (chosen) targets.set(chosen.id, chosen.encryptionKeyBytes);
    const ids = [...targets.keys()];
    const sealed = await this.s.seal(content, [
      this.s.publicKey,
      ...ids.map((id) => targets.get(id)!),
    ]);
    const hospitalKeys: Record<string, Uint8Array> = {};
    ids.forEach((id, i) => {
      hospitalKeys[id] = sealed.wrappedKeys[i + 1]!;
    });
    return { sealed, chosen, hospitalKeys };
  }

  /** A health report (text or a file) for a hospital's doctors of one specialization. */
  async submitReport(r: {
    content: Content;
    hospital: string;
    specialization: string;
  }): Promise<TxOutcome & { hospital: string; specialization: string }> {
    // A remembered hospital that lacks the specialization may have added it since: ask first.
    const h = await this.activeHospital(r.hospital);
    if (!h.specializations.includes(r.specialization)) await this.activeHospital(r.hospital, true);
    let readers: string[] = [r.hospital];
    // Built again if another device of this account got in first (its consents may differ).
    const build = async () => {
      const { sealed, chosen, hospitalKeys } = await this.sealForHospitals(r.content, r.hospital);
      readers = Object.keys(hospitalKeys);
      if (!chosen!.specializations.includes(r.specialization)) {
        throw new EhrError(
          'SPECIALIZATION_MISMATCH',
          `hospital "${r.hospital}" does not offer "${r.specialization}"; it offers ${chosen!.specializations.join(', ')}`,
          { hospital: r.hospital, specialization: r.specialization },
        );
      }
      const payload = {
        hospital: r.hospital,
        specialization: r.specialization,
        payloadHash: sealed.payloadHash,
        payloadSize: sealed.payloadSize,
        patientKey: sealed.wrappedKeys[0]!,
        hospitalKeys,
      };
      return { payload, bodies: [sealed.body] };
    };
    const tx = await this.s
      .submit('record.submit', build)
      .catch((err) => this.forgetHospitalsOnRefusal(err, readers));
    return { ...tx, hospital: r.hospital, specialization: r.specialization };
  }

  /** The ledger refused over a hospital (gone, deactivated, changed): read it again next time. */
  private forgetHospitalsOnRefusal(err: unknown, hospitals: string[]): never {
    const code = err instanceof EhrError ? err.code : undefined;
    if (code === 'UNKNOWN_HOSPITAL' || code === 'INACTIVE' || code === 'SPECIALIZATION_MISMATCH') {
      for (const h of hospitals) this.forgetHospital(h);
    }
    throw err;
  }

  /** A document (e.g. a scan or an earlier receipt), optionally attached to one of the patient's reports. */
  async attachDocument(d: {
    content: Content;
    report?: string;
  }): Promise<TxOutcome & { report: string | null }> {
    let hospital: string | null = null;
    if (d.report !== undefined) {
      const report = (await this.records('patient_reports')).find((r) => r.id === d.report);
      if (!report) {
        throw new EhrError(
          'UNKNOWN_RECORD',
          `you have no report ${d.report.slice(0, 16)}… (see: ehr patient reports)`,
          {
            record: d.report,
          },
        );
      }
      hospital = report.hospital;
    }
    let readers: string[] = [];
    const build = async () => {
      const { sealed, hospitalKeys } = await this.sealForHospitals(d.content, hospital);
      readers = Object.keys(hospitalKeys);
      const payload = {
        ...(d.report !== undefined ? { report: d.report } : {}),
        payloadHash: sealed.payloadHash,
        payloadSize: sealed.payloadSize,
        patientKey: sealed.wrappedKeys[0]!,
        ...(readers.length > 0 ? { hospitalKeys } : {}),
      };
      return { payload, bodies: [sealed.body] };
    };
    const tx = await this.s
      .submit('record.attach', build)
      .catch((err) => this.forgetHospitalsOnRefusal(err, readers));
    return { ...tx, report: d.report ?? null };
  }

  /**
   * Shares everything with a hospital: a consent with scope "all", carrying the data key of each
   * existing record and of the profile re-wrapped for the hospital (unwrapped here from the
   * patient's own keys; bodies are not re-encrypted). More keys than one transaction holds go
   * in further grants for the same hospital.
   */
  async share(s: { hospital: string; expiresAt?: number }): Promise<SharedResult> {
    const h = await this.activeHospital(s.hospital, true);
    if (s.expiresAt !== undefined && s.expiresAt <= Date.now()) {
      throw new EhrError(
        'CONSENT_EXPIRED',
        `the expiry ${new Date(s.expiresAt).toISOString()} is in the past`,
        {
          expiresAt: s.expiresAt,
        },
      );
    }
    const [reports, documents, profile] = await Promise.all([
      this.records('patient_reports'),
      this.records('patient_documents'),
      this.s.read<{ wrappedKey: string | null }>('patient_profile', {
        patient: this.s.key,
        purpose: 'PATRQT',
      }),
    ]);
    const entries: [string, Uint8Array][] = [];
    if (profile.wrappedKey)
      entries.push([this.s.key, this.s.rewrap(profile.wrappedKey, h.encryptionKeyBytes)]);
    for (const r of [...reports, ...documents]) {
      entries.push([r.id, this.s.rewrap(r.patientKey, h.encryptionKeyBytes)]);
    }
    const txs: TxOutcome[] = [];
    this.s.forgetOwnState('consents');
    try {
      for (let i = 0; i === 0 || i < entries.length; i += KEYS_PER_TX) {
        txs.push(
          await this.s.submit('consent.grant', {
            hospital: h.id,
            scope: 'all',
            ...(s.expiresAt !== undefined ? { expiresAt: s.expiresAt } : {}),
            keys: Object.fromEntries(entries.slice(i, i + KEYS_PER_TX)),
          }),
        );
      }
    } finally {
      this.s.forgetOwnState('consents');
    }
    return { hospital: h.id, expiresAt: s.expiresAt ?? null, keysShared: entries.length, txs };
  }

  async revoke(hospital: string): Promise<TxOutcome> {
    this.s.forgetOwnState('consents');
    try {
      return await this.s.submit('consent.revoke', { hospital });
    } finally {
      this.s.forgetOwnState('consents');
    }
  }

  private records(
    method: 'patient_reports' | 'patient_documents',
    report?: string,
  ): Promise<RecordInfo[]> {
    return this.s.all<RecordInfo>(
      method,
      { patient: this.s.key, ...(report ? { report } : {}) },
      true,
    );
  }

  /** The patient's reports, oldest first, each with its attached documents. */
  async reports(): Promise<ReportView[]> {
    const [reports, documents] = await Promise.all([
      this.records('patient_reports'),
      this.records('patient_documents'),
    ]);
    return reports.map((r) => ({ ...r, documents: documents.filter((d) => d.report === r.id) }));
  }

  documents(report?: string): Promise<RecordInfo[]> {
    return this.records('patient_documents', report);
  }

  /** Opens one of the patient's records (report or document). */
  async readRecord(id: string, purpose: PurposeCode = 'PATRQT'): Promise<Opened<RecordInfo>> {
    const r = await this.s.read<{
      record: RecordInfo;
      body: string;
      wrappedKey: string | null;
      reason: string;
      audit: string | null;
    }>('record_get', { id, purpose });
    return {
      item: r.record,
      content: this.s.open(r.body, r.wrappedKey, 'account', `record ${id.slice(0, 16)}…`),
      reason: r.reason,
      audit: r.audit ?? null,
    };
  }

  /** Prescriptions written for the patient, opened, with the prescribing doctor's name. */
  async prescriptions(): Promise<PrescriptionView[]> {
    const list = await this.s.all<PrescriptionInfo>(
      'patient_prescriptions',
      { patient: this.s.key },
      true,
    );
    const out: PrescriptionView[] = [];
    for (const p of list) {
      try {
        const r = await this.s.read<{ body: string; wrappedKey: string | null }>(
          'prescription_get',
          {
            id: p.id,
            purpose: 'PATRQT',
          },
        );
        out.push({
          ...p,
          content: this.s.open(
            r.body,
            r.wrappedKey,
            'account',
            `prescription ${p.id.slice(0, 16)}…`,
          ),
        });
      } catch (err) {
        out.push({ ...p, content: null, error: (err as Error).message });
      }
    }
    return out;
  }

  /** Who read the patient's data, oldest first. */
  audit(limit = MAX_LIMIT): Promise<AuditEventInfo[]> {
    return this.s.all<AuditEventInfo>('patient_audit', { patient: this.s.key }, true, limit);
  }
}
