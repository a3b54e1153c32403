/**
 * What a doctor does: list the patients and reports they may read, open a report (its data key
 * is wrapped for the hospital, so the doctor needs the hospital's encryption secret key, which the
 * hospital gives its doctors), and write a prescription sealed for the patient and the hospital.
 */
import { EhrError, fromHex, type PurposeCode } from '@ehr/core';
import { keyBytes } from './admin-ops.ts';
import { Directory, MAX_LIMIT } from './directory.ts';
import type {
  DoctorInfo,
  DoctorPatientInfo,
  Opened,
  PrescriptionInfo,
  RecordInfo,
  TxOutcome,
} from './ehr-types.ts';
import type { Content } from './sealing.ts';

type Served<K extends string, T> = { [k in K]: T } & {
  body: string;
  wrappedKey: string | null;
  reason: string;
  audit: string | null;
};

export class DoctorOps extends Directory {
  #checkedHospitalKey: string | undefined;

  /**
   * Checks the hospital key this session holds is the doctor's hospital's encryption key before
   * asking for a body: a read is recorded on chain, so do not make one that cannot be opened.
   */
  private async checkHospitalKey(): Promise<void> {
    const mine = this.s.requireHospitalKey();
    if (this.#checkedHospitalKey === mine) return;
    const me = await this.me();
    const h = await this.hospital(me.hospital);
    if (h.encryptionKey !== mine) {
      throw new EhrError(
        'SEAL_WRONG_KEY',
        `the hospital key given (${mine.slice(0, 16)}…) is not the encryption key of ${h.id} (${h.encryptionKey.slice(0, 16)}…)`,
        { hospital: h.id, given: mine, expected: h.encryptionKey },
      );
    }
    this.#checkedHospitalKey = mine;
  }

  /** This doctor's registration (hospital, specialization, active). */
  me(): Promise<DoctorInfo> {
    return this.doctor(this.s.key);
  }

  /** Patients with a report this doctor may open, or whose profile is shared with the hospital. */
  async patients(limit = MAX_LIMIT): Promise<DoctorPatientInfo[]> {
    const rows = await this.s.all<DoctorPatientInfo & { reason?: string }>(
      'doctor_patients',
      { doctor: this.s.key },
      true,
      limit,
    );
    // The catalogue documents { patient, reason }; accept either form.
    return rows.map((r) => ({
      patient: r.patient,
      reasons: r.reasons ?? (r.reason ? [r.reason] : []),
      reports: r.reports ?? 0,
    }));
  }

  /** Exactly the reports this doctor may open, with why (`access`: PENDING_REPORT, PRESCRIBER or CONSENT). */
  reports(limit = MAX_LIMIT): Promise<RecordInfo[]> {
    return this.s.all<RecordInfo>('doctor_reports', { doctor: this.s.key }, true, limit);
  }

  /** Opens a report or document with the hospital's key; the serving node records the read. */
  async readReport(id: string, purpose: PurposeCode = 'TREAT'): Promise<Opened<RecordInfo>> {
    await this.checkHospitalKey();
    const r = await this.s.read<Served<'record', RecordInfo>>('record_get', { id, purpose });
    return {
      item: r.record,
      content: this.s.open(r.body, r.wrappedKey, 'hospital', `record ${id.slice(0, 16)}…`),
      reason: r.reason,
      audit: r.audit ?? null,
    };
  }

  /** A patient's profile, when the patient shared it with the hospital. */
  async readProfile(
    patient: string,
    purpose: PurposeCode = 'TREAT',
  ): Promise<Opened<{ patient: string }>> {
    keyBytes(patient, 'patient');
    await this.checkHospitalKey();
    const r = await this.s.read<Served<'patient', string>>('patient_profile', { patient, purpose });
    return {
      item: { patient },
      content: this.s.open(r.body, r.wrappedKey, 'hospital', `profile of ${patient.slice(0, 16)}…`),
      reason: r.reason,
      audit: r.audit ?? null,
    };
  }

  /** A prescription this doctor wrote (or one their hospital may read). */
  async readPrescription(
    id: string,
    purpose: PurposeCode = 'TREAT',
  ): Promise<Opened<PrescriptionInfo>> {
    await this.checkHospitalKey();
    const r = await this.s.read<Served<'prescription', PrescriptionInfo>>('prescription_get', {
      id,
      purpose,
    });
    return {
      item: r.prescription,
      content: this.s.open(r.body, r.wrappedKey, 'hospital', `prescription ${id.slice(0, 16)}…`),
      reason: r.reason,
      audit: r.audit ?? null,
    };
  }

  /**
   * Writes a prescription for a report this doctor may read, sealed for the patient and the
   * doctor's hospital. The report moves from pending to prescribed.
   */
  async prescribe(p: {
    record: string;
    content: Content;
  }): Promise<TxOutcome & { record: string; patient: string }> {
    const me = await this.me();
    const listed = (await this.reports()).find((r) => r.id === p.record);
    // Not listed (e.g. beyond the list limit): ask for it; the access rules decide.
    const record =
      listed ??
      (
        await this.s.read<Served<'record', RecordInfo>>('record_get', {
          id: p.record,
          purpose: 'TREAT',
        })
      ).record;
    if (record.kind !== 'report') {
      throw new EhrError(
        'INVALID_STATE',
        `${p.record.slice(0, 16)}… is a document; prescribe for its report`,
        {
          record: p.record,
        },
      );
    }
    const hospital = await this.activeHospital(me.hospital);
    const sealed = await this.s.seal(p.content, [
      fromHex(record.patient),
      hospital.encryptionKeyBytes,
    ]);
    const tx = await this.s.submit(
      'prescription.write',
      {
        record: p.record,
        payloadHash: sealed.payloadHash,
        payloadSize: sealed.payloadSize,
        patientKey: sealed.wrappedKeys[0]!,
        hospitalKey: sealed.wrappedKeys[1]!,
      },
      [sealed.body],
    );
    return { ...tx, record: p.record, patient: record.patient };
  }
}
