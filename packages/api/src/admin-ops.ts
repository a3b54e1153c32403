/** What an admin does: register hospitals and doctors, propose and approve membership changes. */
import { EhrError, fromHex } from '@ehr/core';
import { Directory } from './directory.ts';
import type { ProposalInfo, TxOutcome } from './ehr-types.ts';

const KEY_HEX = /^[0-9a-f]{64}$/;

/** A 32-byte key given as hex, checked here so the message names the field. */
export function keyBytes(hex: string, field: string): Uint8Array {
  if (!KEY_HEX.test(hex)) {
    throw new EhrError(
      'BAD_ARGUMENT',
      `${field}: expected a public key as 64 lowercase hex characters, got "${hex}"`,
      {
        field,
      },
    );
  }
  return fromHex(hex);
}

export interface NewHospital {
  id: string;
  name: string;
  address?: string;
  specializations: string[];
  contact?: string;
  /** Node public keys (hex) that serve this hospital. */
  nodes?: string[];
  /** The hospital's encryption public key (hex); its secret stays with the hospital. */
  encryptionKey: string;
}

export interface NewDoctor {
  /** The doctor's account public key (hex). */
  key: string;
  hospital: string;
  name: string;
  specialization: string;
  qualification?: string;
  experience?: number;
  contact?: string;
}

export interface Proposed {
  tx: TxOutcome;
  /** The proposal after the transaction (null if it was not committed yet). */
  proposal: ProposalInfo | null;
}

export class AdminOps extends Directory {
  addHospital(h: NewHospital): Promise<TxOutcome> {
    return this.s.submit('hospital.register', {
      id: h.id,
      name: h.name,
      address: h.address ?? '',
      specializations: h.specializations,
      contact: h.contact ?? '',
      nodes: (h.nodes ?? []).map((n, i) => keyBytes(n, `nodes[${i}]`)),
      encryptionKey: keyBytes(h.encryptionKey, 'encryptionKey'),
    });
  }

  deactivateHospital(id: string): Promise<TxOutcome> {
    return this.s.submit('hospital.deactivate', { id });
  }

  addDoctor(d: NewDoctor): Promise<TxOutcome> {
    return this.s.submit('doctor.register', {
      doctor: keyBytes(d.key, 'doctor'),
      hospital: d.hospital,
      name: d.name,
      specialization: d.specialization,
      qualification: d.qualification ?? '',
      experience: d.experience ?? 0,
      contact: d.contact ?? '',
    });
  }

  deactivateDoctor(key: string): Promise<TxOutcome> {
    return this.s.submit('doctor.deactivate', { doctor: keyBytes(key, 'doctor') });
  }

  /** Opens a proposal (the proposer's own approval counts); it applies once enough admins approve. */
  async propose(p: {
    action: 'add' | 'remove';
    role: 'admin' | 'validator' | 'observer';
    subject: string;
    reason?: string;
  }): Promise<Proposed> {
    const tx = await this.s.submit('governance.propose', {
      action: p.action,
      role: p.role,
      subject: keyBytes(p.subject, 'subject'),
      ...(p.reason ? { reason: p.reason } : {}),
    });
    return { tx, proposal: tx.status === 'committed' ? await this.proposal(tx.hash) : null };
  }

  async approve(proposal: string): Promise<Proposed> {
    if (!KEY_HEX.test(proposal)) {
      throw new EhrError(
        'BAD_ARGUMENT',
        `proposal: expected an id of 64 lowercase hex characters, got "${proposal}"`,
        {},
      );
    }
    const tx = await this.s.submit('governance.approve', { proposal });
    return { tx, proposal: tx.status === 'committed' ? await this.proposal(proposal) : null };
  }
}
