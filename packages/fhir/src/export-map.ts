/**
 * Ledger entities (as the client opened them) to FHIR R4 resources, collected in a Bundle of type
 * `collection`. Pure: no I/O, no clock except the timestamp given. Each resource carries an
 * identifier whose value is on chain (see uris.ts).
 */
import {
  type AuditEventInfo,
  type ConsentInfo,
  type Content,
  consentInForce,
  type DoctorInfo,
  type HospitalInfo,
  type PrescriptionInfo,
  type RecordInfo,
} from '@ehr/api';
import { isPurposeCode, PURPOSE_SYSTEM, PURPOSES, sha256, toHex, utf8 } from '@ehr/core';
import type {
  AuditEvent,
  Bundle,
  BundleEntry,
  Consent,
  DocumentReference,
  MedicationRequest,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  Resource,
} from '@medplum/fhirtypes';
import { toAttachment } from './attachment.ts';
import { type AnyRef, fullUrlOf, type ResourceType, refById, refTo } from './refs.ts';
import { specialtyConcept } from './specialty.ts';
import { EXTENSION, SYSTEM } from './uris.ts';

const iso = (ms: number): string => new Date(ms).toISOString();
const DATE = /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$/;

function telecom(contact: string) {
  if (!contact) return undefined;
  return [
    { system: contact.includes('@') ? ('email' as const) : ('phone' as const), value: contact },
  ];
}

/** The first line of a text, at most 200 characters (a title for a longer text). */
function headline(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.length > 200 ? `${line.slice(0, 199)}…` : line.trim();
}

export class BundleBuilder {
  readonly #entries = new Map<string, BundleEntry>();
  /** Names to show in references to entries (hospital, doctor, patient). */
  readonly #displays = new Map<string, string>();

  has(type: string, id: string): boolean {
    return this.#entries.has(fullUrlOf(type, id));
  }

  /** Adds a resource once (the first one added under a type and id wins). */
  add<T extends Resource & { id?: string }>(r: T): T {
    const fullUrl = fullUrlOf(r.resourceType, r.id!);
    if (!this.#entries.has(fullUrl)) {
      this.#entries.set(fullUrl, { fullUrl, resource: r });
      const named = r as { name?: string | { text?: string }[] };
      const display = typeof named.name === 'string' ? named.name : named.name?.[0]?.text;
      if (display) this.#displays.set(fullUrl, display);
    }
    return r;
  }

  /** A reference into the bundle when the target is there, else by its on-chain identifier. */
  ref(type: ResourceType, id: string, system: string, display?: string): AnyRef {
    return this.has(type, id)
      ? refTo(type, id, display ?? this.#displays.get(fullUrlOf(type, id)))
      : refById(type, system, id, display);
  }

  bundle(timestamp: number, exportId: string): Bundle {
    return {
      resourceType: 'Bundle',
      identifier: { system: 'urn:ietf:rfc:3986', value: fullUrlOf('Bundle', exportId) },
      type: 'collection',
      timestamp: iso(timestamp),
      entry: [...this.#entries.values()],
    };
  }

  patient(key: string, profile: Content | null): Patient {
    const value = profile?.type === 'json' ? profile.value : undefined;
    const p = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
    const name = typeof p['name'] === 'string' && p['name'].trim() ? p['name'] : undefined;
    const born = p['born'] ?? p['birthDate'];
    const birthDate =
      typeof born === 'number' ? String(born) : typeof born === 'string' ? born : '';
    return this.add<Patient>({
      resourceType: 'Patient',
      id: key,
      identifier: [{ system: SYSTEM.account, value: key }],
      active: true,
      ...(name ? { name: [{ text: name }] } : {}),
      ...(DATE.test(birthDate) ? { birthDate } : {}),
      ...(value !== undefined
        ? { extension: [{ url: EXTENSION.profile, valueString: JSON.stringify(value) }] }
        : {}),
    });
  }

  organization(h: HospitalInfo): Organization {
    const t = telecom(h.contact);
    return this.add<Organization>({
      resourceType: 'Organization',
      id: h.id,
      identifier: [
        { system: SYSTEM.hospital, value: h.id },
        { system: SYSTEM.hospitalKey, value: h.encryptionKey },
      ],
      active: h.active,
      name: h.name,
      ...(t ? { telecom: t } : {}),
      ...(h.address ? { address: [{ text: h.address }] } : {}),
    });
  }

  /** A doctor: the person (Practitioner) and their post at the hospital (PractitionerRole). */
  doctor(d: DoctorInfo): { practitioner: Practitioner; role: PractitionerRole } {
    const t = telecom(d.contact);
    const practitioner = this.add<Practitioner>({
      resourceType: 'Practitioner',
      id: d.key,
      identifier: [{ system: SYSTEM.account, value: d.key }],
      active: d.active,
      name: [{ text: d.name }],
      ...(t ? { telecom: t } : {}),
      ...(d.qualification ? { qualification: [{ code: { text: d.qualification } }] } : {}),
    });
    const role = this.add<PractitionerRole>({
      resourceType: 'PractitionerRole',
      id: d.key,
      identifier: [{ system: SYSTEM.account, value: d.key }],
      active: d.active,
      practitioner: refTo('Practitioner', d.key, d.name),
      organization: this.ref('Organization', d.hospital, SYSTEM.hospital),
      specialty: [specialtyConcept(d.specialization)],
    });
    return { practitioner, role };
  }

  /** A report or document with its opened content. */
  record(r: RecordInfo, content: Content): DocumentReference {
    const patient = this.ref('Patient', r.patient, SYSTEM.account);
    return this.add<DocumentReference>({
      resourceType: 'DocumentReference',
      id: r.id,
      identifier: [
        { system: SYSTEM.tx, value: r.id },
        { system: SYSTEM.payload, value: r.payloadHash },
      ],
      ...(r.kind === 'report' && r.status
        ? { extension: [{ url: EXTENSION.reportStatus, valueCode: r.status }] }
        : {}),
      status: 'current',
      docStatus: 'final',
      type: {
        coding: [{ system: SYSTEM.recordKind, code: r.kind }],
        text: r.kind === 'report' ? 'health report' : 'document',
      },
      subject: patient,
      date: iso(r.submittedAt),
      author: [patient],
      ...(r.hospital ? { custodian: this.ref('Organization', r.hospital, SYSTEM.hospital) } : {}),
      ...(r.kind === 'document' && r.report
        ? {
            relatesTo: [
              { code: 'appends', target: this.ref('DocumentReference', r.report, SYSTEM.tx) },
            ],
          }
        : {}),
      content: [{ attachment: toAttachment(content, r.submittedAt) }],
      ...(r.specialization
        ? { context: { practiceSetting: specialtyConcept(r.specialization) } }
        : {}),
    });
  }

  /**
   * A prescription: text goes in the dosage instruction and a note verbatim; another body (a
   * file) travels as a DocumentReference the request points to.
   */
  prescription(p: PrescriptionInfo, content: Content): MedicationRequest {
    const text = content.type === 'text' ? content.text : undefined;
    const support: AnyRef[] = [this.ref('DocumentReference', p.record, SYSTEM.tx)];
    if (text === undefined) {
      const doc = this.add<DocumentReference>({
        resourceType: 'DocumentReference',
        id: p.id,
        identifier: [
          { system: SYSTEM.tx, value: p.id },
          { system: SYSTEM.payload, value: p.payloadHash },
        ],
        status: 'current',
        type: {
          coding: [{ system: SYSTEM.recordKind, code: 'prescription' }],
          text: 'prescription',
        },
        subject: this.ref('Patient', p.patient, SYSTEM.account),
        date: iso(p.writtenAt),
        author: [this.ref('Practitioner', p.doctor, SYSTEM.account, p.doctorName)],
        custodian: this.ref('Organization', p.hospital, SYSTEM.hospital),
        content: [{ attachment: toAttachment(content, p.writtenAt) }],
      });
      support.push(refTo('DocumentReference', doc.id!));
    }
    return this.add<MedicationRequest>({
      resourceType: 'MedicationRequest',
      id: p.id,
      identifier: [
        { system: SYSTEM.tx, value: p.id },
        { system: SYSTEM.payload, value: p.payloadHash },
      ],
      status: 'active',
      intent: 'order',
      medicationCodeableConcept: {
        text: text !== undefined ? headline(text) : 'see the attached prescription',
      },
      subject: this.ref('Patient', p.patient, SYSTEM.account),
      authoredOn: iso(p.writtenAt),
      requester: this.ref('Practitioner', p.doctor, SYSTEM.account, p.doctorName),
      supportingInformation: support,
      ...(text !== undefined ? { dosageInstruction: [{ text }], note: [{ text }] } : {}),
    });
  }

  consent(c: ConsentInfo, now: number): Consent {
    const end = c.revokedAt ?? c.expiresAt;
    return this.add<Consent>({
      resourceType: 'Consent',
      id: toHex(sha256(utf8(`${c.patient}/${c.hospital}`))),
      identifier: [{ system: SYSTEM.consent, value: `${c.patient}/${c.hospital}` }],
      status: consentInForce(c, now) ? 'active' : 'inactive',
      scope: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/consentscope',
            code: 'patient-privacy',
            display: 'Privacy Consent',
          },
        ],
      },
      category: [
        { coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] },
      ],
      patient: this.ref('Patient', c.patient, SYSTEM.account),
      dateTime: iso(c.grantedAt),
      organization: [this.ref('Organization', c.hospital, SYSTEM.hospital)],
      policyRule: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }],
      },
      provision: {
        type: 'permit',
        period: { start: iso(c.grantedAt), ...(end !== null ? { end: iso(end) } : {}) },
        actor: [
          {
            role: {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
                  code: 'IRCP',
                  display: 'information recipient',
                },
              ],
            },
            reference: this.ref('Organization', c.hospital, SYSTEM.hospital),
          },
        ],
        ...(c.scope !== 'all'
          ? {
              data: c.scope.map((id) => ({
                meaning: 'instance' as const,
                reference: this.ref('DocumentReference', id, SYSTEM.tx),
              })),
            }
          : {}),
      },
    });
  }

  /** A read of the patient's data: who, what, when, why, and the node that served it. */
  audit(e: AuditEventInfo): AuditEvent {
    const target =
      e.target === e.patient
        ? this.ref('Patient', e.patient, SYSTEM.account)
        : this.has('DocumentReference', e.target)
          ? refTo('DocumentReference', e.target)
          : this.has('MedicationRequest', e.target)
            ? refTo('MedicationRequest', e.target)
            : refById('DocumentReference', SYSTEM.tx, e.target);
    const reader =
      this.has('Practitioner', e.reader) || this.has('Patient', e.reader)
        ? refTo(
            this.has('Patient', e.reader) ? 'Patient' : 'Practitioner',
            e.reader,
            e.readerName ?? undefined,
          )
        : refById('Practitioner', SYSTEM.account, e.reader, e.readerName ?? undefined);
    return this.add<AuditEvent>({
      resourceType: 'AuditEvent',
      id: e.id,
      type: {
        system: 'http://dicom.nema.org/resources/ontology/DCM',
        code: '110110',
        display: 'Patient Record',
      },
      subtype: [
        { system: 'http://hl7.org/fhir/restful-interaction', code: 'read', display: 'read' },
      ],
      action: 'R',
      period: { start: iso(e.readAt), end: iso(e.readAt) },
      recorded: iso(e.recordedAt),
      outcome: '0',
      purposeOfEvent: [
        isPurposeCode(e.purpose)
          ? {
              coding: [{ system: PURPOSE_SYSTEM, code: e.purpose, display: PURPOSES[e.purpose] }],
              text: PURPOSES[e.purpose],
            }
          : { text: e.purpose },
      ],
      agent: [
        {
          who: reader,
          ...(e.readerName ? { name: e.readerName } : {}),
          requestor: true,
        },
      ],
      source: {
        ...(e.readerHospital ? { site: e.readerHospital } : {}),
        observer: refById('Device', SYSTEM.node, e.node),
      },
      entity: [
        {
          what: target,
          role: {
            system: 'http://terminology.hl7.org/CodeSystem/object-role',
            code: '4',
            display: 'Domain Resource',
          },
        },
        {
          what: refById('Provenance', SYSTEM.tx, e.id),
          description: 'the access.record transaction that put this read on chain',
        },
      ],
    });
  }
}
