/**
 * Why health data is read: a coded purpose, never free text. Every read by someone other than
 * the patient is recorded on chain with its purpose, in plaintext on every node, so free text
 * could itself carry health information. The codes are HL7 v3 PurposeOfUse
 * (http://terminology.hl7.org/CodeSystem/v3-ActReason), the vocabulary health IT already uses
 * (FHIR AuditEvent.purposeOfEvent).
 */
export const PURPOSE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

export const PURPOSES = {
  TREAT: 'treatment',
  ETREAT: 'emergency treatment',
  COC: 'coordination of care',
  CAREMGT: 'care management',
  HPAYMT: 'healthcare payment',
  HOPERAT: 'healthcare operations',
  HRESCH: 'healthcare research',
  PUBHLTH: 'public health',
  HLEGAL: 'legal',
  PATRQT: 'patient requested',
  FAMRQT: 'family requested',
} as const;

export type PurposeCode = keyof typeof PURPOSES;
export const PURPOSE_CODES = Object.keys(PURPOSES) as PurposeCode[];

export function isPurposeCode(v: unknown): v is PurposeCode {
  return typeof v === 'string' && Object.hasOwn(PURPOSES, v);
}

/**
 * A code from what a user typed: the code itself (any case) or its words ("treatment",
 * "emergency-treatment"). Undefined if it is neither.
 */
export function parsePurpose(text: string): PurposeCode | undefined {
  const t = text.trim();
  if (isPurposeCode(t.toUpperCase())) return t.toUpperCase() as PurposeCode;
  const words = t.toLowerCase().replace(/[-_]+/g, ' ');
  return PURPOSE_CODES.find((c) => PURPOSES[c] === words);
}
