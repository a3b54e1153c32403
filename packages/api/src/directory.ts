/** The public directory every role reads: hospitals, doctors, governance. No signature needed. */
import { EhrError, fromHex } from '@ehr/core';
import type {
  DoctorInfo,
  HospitalInfo,
  MembersInfo,
  ProposalInfo,
  ValidatorsInfo,
} from './ehr-types.ts';
import { rpcErrorCode, type Session } from './session.ts';

/** Lists come back at most this many at a time (the catalogue's limit maximum). */
export const MAX_LIMIT = 1000;

export class Directory {
  protected readonly s: Session;
  constructor(session: Session) {
    this.s = session;
  }

  hospitals(limit = MAX_LIMIT): Promise<HospitalInfo[]> {
    return this.s.all<HospitalInfo>('hospital_list', {}, false, limit);
  }

  hospital(id: string): Promise<HospitalInfo> {
    return this.s.call<HospitalInfo>('hospital_get', { id });
  }

  /**
   * A hospital as the session remembers it (for up to its directoryTtlMs), or read afresh.
   * Unknown hospitals are not remembered.
   */
  cachedHospital(id: string, fresh = false): Promise<HospitalInfo> {
    return this.s.directoryEntry(`hospital:${id}`, () => this.hospital(id), fresh);
  }

  /** Forgets a remembered hospital (the ledger refused something over it). */
  forgetHospital(id: string): void {
    this.s.forgetDirectoryEntry(`hospital:${id}`);
  }

  /**
   * A hospital that can take new reports, with its encryption key as bytes. Served from the
   * session's memory of it when fresh enough; a remembered hospital that would be refused as
   * inactive is read again first.
   */
  async activeHospital(
    id: string,
    fresh = false,
  ): Promise<HospitalInfo & { encryptionKeyBytes: Uint8Array }> {
    let h: HospitalInfo;
    try {
      h = await this.cachedHospital(id, fresh);
    } catch (err) {
      if (rpcErrorCode(err) === 'UNKNOWN_HOSPITAL' || rpcErrorCode(err) === 'NOT_FOUND') {
        throw new EhrError(
          'UNKNOWN_HOSPITAL',
          `there is no hospital "${id}" (see: ehr patient hospitals)`,
          {
            hospital: id,
          },
        );
      }
      throw err;
    }
    if (!h.active && !fresh) return this.activeHospital(id, true);
    if (!h.active) {
      throw new EhrError('INACTIVE', `hospital "${id}" is deactivated`, { hospital: id });
    }
    return { ...h, encryptionKeyBytes: fromHex(h.encryptionKey) };
  }

  doctors(hospital: string, limit = MAX_LIMIT): Promise<DoctorInfo[]> {
    return this.s.all<DoctorInfo>('doctor_list', { hospital }, false, limit);
  }

  doctor(key: string): Promise<DoctorInfo> {
    return this.s.call<DoctorInfo>('doctor_get', { key });
  }

  proposals(status?: 'open' | 'applied' | 'failed', limit = MAX_LIMIT): Promise<ProposalInfo[]> {
    return this.s.all<ProposalInfo>('gov_proposals', status ? { status } : {}, false, limit);
  }

  proposal(id: string): Promise<ProposalInfo> {
    return this.s.call<ProposalInfo>('gov_proposal', { id });
  }

  members(): Promise<MembersInfo> {
    return this.s.call<MembersInfo>('gov_members');
  }

  validators(): Promise<ValidatorsInfo> {
    return this.s.call<ValidatorsInfo>('gov_validators');
  }
}
