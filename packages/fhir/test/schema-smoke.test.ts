import { describe, expect, it } from 'vitest';
import { fhirErrors, r4ResourceTypes } from './fhir-schema.ts';

describe('the FHIR R4 schema (third party) as used here', () => {
  it('accepts a valid resource and refuses wrong types, unknown fields and unknown codes', () => {
    expect(fhirErrors({ resourceType: 'Patient', name: [{ family: 'Chalmers' }] })).toEqual([]);
    expect(fhirErrors({ resourceType: 'Patient', name: 'Chalmers' })).not.toEqual([]);
    expect(fhirErrors({ resourceType: 'Patient', gender: 'x' })).not.toEqual([]);
    expect(fhirErrors({ resourceType: 'Patient', nickname: 'x' })).not.toEqual([]);
    expect(
      fhirErrors({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [{ resource: { resourceType: 'DocumentReference', status: 'current' } }],
      }),
    ).not.toEqual([]);
    const rx = {
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      subject: { display: 'x' },
      medicationCodeableConcept: { text: 'aspirin' },
    };
    expect(fhirErrors(rx)).toEqual([]);
    const { intent: _i, ...noIntent } = rx;
    expect(fhirErrors(noIntent)).not.toEqual([]);
    expect(fhirErrors({ ...rx, authoredOn: 'yesterday' })).not.toEqual([]);
    // Medplum's own resource types are not R4.
    expect(fhirErrors({ resourceType: 'Bot', name: 'x' })).not.toEqual([]);
    expect(r4ResourceTypes().size).toBeGreaterThanOrEqual(140);
    expect(r4ResourceTypes().has('DocumentReference')).toBe(true);
  });
});
