/** A patient's story as the gateway serves it (plain data, the shapes of @ehr/api), for unit tests. */
import type {
  AuditEventInfo,
  ConsentInfo,
  Content,
  DoctorInfo,
  HospitalInfo,
  PrescriptionInfo,
  RecordInfo,
} from '@ehr/api';

const hex = (c: string) => c.repeat(64);
export const T0 = Date.UTC(2026, 2, 1, 9, 30);

export const alice = hex('a');
export const heartKey = hex('d');
export const city: HospitalInfo = {
  id: 'city-general',
  name: 'City General',
  address: '1 Harbour Road',
  specializations: ['cardiology', 'wound-care'],
  contact: 'desk@city.example',
  nodes: [hex('9')],
  encryptionKey: hex('e'),
  active: true,
  registeredAt: T0 - 1000,
  updatedAt: T0 - 1000,
};
export const heart: DoctorInfo = {
  key: heartKey,
  hospital: 'city-general',
  name: 'Dr. Amara Heart',
  specialization: 'cardiology',
  qualification: 'MD',
  experience: 12,
  contact: '+1 555 0100',
  active: true,
  registeredAt: T0 - 500,
};
const record = (id: string, over: Partial<RecordInfo>): RecordInfo => ({
  id,
  kind: 'report',
  patient: alice,
  hospital: 'city-general',
  specialization: 'cardiology',
  report: null,
  status: 'pending',
  payloadHash: hex('5'),
  payloadSize: 300,
  patientKey: hex('6'),
  submittedAt: T0,
  pos: '1:0',
  ...over,
});
export const report = record(hex('1'), { status: 'prescribed' });
export const ecg = record(hex('2'), {
  kind: 'document',
  report: report.id,
  hospital: 'city-general',
  specialization: null,
  status: null,
  submittedAt: T0 + 60_000,
});
export const loose = record(hex('3'), {
  kind: 'document',
  hospital: null,
  specialization: null,
  status: null,
  submittedAt: T0 + 120_000,
});
export const ecgBytes = new Uint8Array(4099).map((_, i) => (i * 7 + 3) & 255);
export const contents: Record<string, Content> = {
  [report.id]: { type: 'text', text: 'Chest pain when climbing stairs since Monday.\nNo fever.' },
  [ecg.id]: { type: 'file', name: 'ecg.pdf', mediaType: 'application/pdf', data: ecgBytes },
  [loose.id]: { type: 'text', text: 'Vaccination card: tetanus 2019.' },
};
export const rx: PrescriptionInfo = {
  id: hex('4'),
  record: report.id,
  patient: alice,
  doctor: heartKey,
  doctorName: heart.name,
  hospital: 'city-general',
  payloadHash: hex('7'),
  payloadSize: 200,
  patientKey: hex('6'),
  hospitalKey: hex('6'),
  writtenAt: T0 + 3_600_000,
  pos: '3:0',
};
export const rxText = 'Aspirin 75 mg daily for 30 days\nStress test next week.';
export const consent: ConsentInfo = {
  patient: alice,
  hospital: 'city-general',
  scope: 'all',
  grantedAt: T0 + 1000,
  expiresAt: T0 + 90 * 86_400_000,
  revokedAt: null,
};
export const audit: AuditEventInfo = {
  id: hex('8'),
  node: hex('9'),
  reader: heartKey,
  target: report.id,
  patient: alice,
  purpose: 'TREAT',
  readAt: T0 + 1_800_000,
  recordedAt: T0 + 1_801_000,
  pos: '2:0',
  readerName: heart.name,
  readerHospital: 'city-general',
};
