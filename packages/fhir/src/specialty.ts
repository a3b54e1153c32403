/**
 * Specializations as FHIR codes: SNOMED CT clinical specialties (the codes of FHIR's "Practice
 * Setting Code Value Set", descendants of 394658006 |Clinical specialty|) where the slug names
 * one; the slug as text (and under this project's code system) otherwise.
 */
import type { CodeableConcept } from '@medplum/fhirtypes';
import { SNOMED, SYSTEM } from './uris.ts';

const CODES: Record<string, [string, string]> = {
  anesthesiology: ['394577000', 'Anesthetics'],
  cardiology: ['394579002', 'Cardiology'],
  dermatology: ['394582007', 'Dermatology'],
  endocrinology: ['394583002', 'Endocrinology'],
  gastroenterology: ['394584008', 'Gastroenterology'],
  'general-practice': ['394814009', 'General practice'],
  gynecology: ['394585009', 'Obstetrics and gynecology'],
  'infectious-diseases': ['394807007', 'Infectious diseases'],
  nephrology: ['394589003', 'Nephrology'],
  neurology: ['394591006', 'Neurology'],
  obstetrics: ['394585009', 'Obstetrics and gynecology'],
  oncology: ['394593009', 'Medical oncology'],
  ophthalmology: ['394594003', 'Ophthalmology'],
  orthopedics: ['394801008', 'Trauma and orthopedics'],
  pediatrics: ['394537008', 'Pediatric specialty'],
  psychiatry: ['394587001', 'Psychiatry'],
  pulmonology: ['418112009', 'Pulmonary medicine'],
  radiology: ['394914008', 'Radiology'],
  rheumatology: ['394810000', 'Rheumatology'],
  urology: ['394612005', 'Urology'],
  'emergency-medicine': ['773568002', 'Emergency medicine'],
};
const ALIASES: Record<string, string> = {
  anesthesia: 'anesthesiology',
  emergency: 'emergency-medicine',
  'family-medicine': 'general-practice',
  'general-medicine': 'general-practice',
  obgyn: 'gynecology',
  orthopaedics: 'orthopedics',
  paediatrics: 'pediatrics',
  'pulmonary-medicine': 'pulmonology',
};

/** The SNOMED CT code for a specialization slug, if it names a standard specialty. */
export function snomedSpecialty(slug: string): { code: string; display: string } | undefined {
  const hit = CODES[slug] ?? CODES[ALIASES[slug] ?? ''];
  return hit ? { code: hit[0], display: hit[1] } : undefined;
}

export function specialtyConcept(slug: string): CodeableConcept {
  const sct = snomedSpecialty(slug);
  return {
    coding: [
      ...(sct ? [{ system: SNOMED, code: sct.code, display: sct.display }] : []),
      { system: SYSTEM.specialization, code: slug },
    ],
    text: slug,
  };
}

/** The specialization slug a concept names: ours first, then a SNOMED code we know. */
export function specialtySlug(c: CodeableConcept | undefined): string | undefined {
  if (!c) return undefined;
  const ours = c.coding?.find((x) => x.system === SYSTEM.specialization)?.code;
  if (ours) return ours;
  for (const x of c.coding ?? []) {
    if (x.system !== SNOMED) continue;
    const slug = Object.keys(CODES).find((k) => CODES[k]![0] === x.code);
    if (slug) return slug;
  }
  return undefined;
}
