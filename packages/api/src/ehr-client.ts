/**
 * The typed role client: one account (admin, patient or doctor) against one gateway. Everything
 * cryptographic happens here: transactions and reads are signed, bodies sealed and opened on
 * this side, and secret keys never reach a node.
 *
 *   const ehr = new EhrClient('http://127.0.0.1:8545/', patientSecretKey);
 *   await ehr.patient.register({ name: 'Alice' });
 *   const r = await ehr.patient.submitReport({
 *     content: { type: 'text', text: 'chest pain' }, hospital: 'city-general', specialization: 'cardiology',
 *   });
 *   await ehr.patient.share({ hospital: 'city-general' });
 */
import { AdminOps } from './admin-ops.ts';
import type { RpcClient } from './client.ts';
import { Directory } from './directory.ts';
import { DoctorOps } from './doctor-ops.ts';
import type { AccountInfo } from './ehr-types.ts';
import { PatientOps } from './patient-ops.ts';
import { Session, type SessionOptions } from './session.ts';

export class EhrClient {
  readonly session: Session;
  /** Public data: hospitals, doctors, governance. */
  readonly directory: Directory;
  readonly admin: AdminOps;
  readonly patient: PatientOps;
  readonly doctor: DoctorOps;

  constructor(rpc: RpcClient | string, secretKey: Uint8Array, opts: SessionOptions = {}) {
    this.session = new Session(rpc, secretKey, opts);
    this.directory = new Directory(this.session);
    this.admin = new AdminOps(this.session);
    this.patient = new PatientOps(this.session);
    this.doctor = new DoctorOps(this.session);
  }

  /** This account's public key (hex). */
  get key(): string {
    return this.session.key;
  }

  /** This account's next nonce and role on chain. */
  account(key?: string): Promise<AccountInfo> {
    return this.session.account(key);
  }
}
