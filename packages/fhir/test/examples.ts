/** Bundles shaped like the public FHIR R4 examples, shared by the unit and end-to-end tests. */
import { createHash } from 'node:crypto';

export const b64 = (b: Uint8Array | string) => Buffer.from(b).toString('base64');
export const sha1 = (b: Uint8Array | string) => createHash('sha1').update(b).digest('base64');
export const pdf = new Uint8Array(20_000).map((_, i) => (i * 13) & 255);

/** Like hl7.org/fhir/R4 examples: observation-example-f001, diagnosticreport-example-ghp, … */
export const foreign = {
  resourceType: 'Bundle',
  id: 'bundle-example',
  meta: { lastUpdated: '2014-08-18T01:43:30Z' },
  type: 'searchset',
  total: 9,
  link: [{ relation: 'self', url: 'https://example.com/base/MedicationRequest?patient=347' }],
  entry: [
    {
      fullUrl: 'https://example.com/base/Patient/347',
      resource: {
        resourceType: 'Patient',
        id: '347',
        name: [{ family: 'Chalmers', given: ['Peter'] }],
      },
    },
    {
      fullUrl: 'https://example.com/base/Observation/f001',
      resource: {
        resourceType: 'Observation',
        id: 'f001',
        text: {
          status: 'generated',
          div: '<div xmlns="http://www.w3.org/1999/xhtml">glucose</div>',
        },
        extension: [
          { url: 'http://example.org/fhir/StructureDefinition/lab', valueString: 'main lab' },
        ],
        identifier: [
          {
            use: 'official',
            system: 'http://www.bmc.nl/zorgportal/identifiers/observations',
            value: '6323',
          },
        ],
        status: 'final',
        code: {
          coding: [
            {
              system: 'http://loinc.org',
              code: '15074-8',
              display: 'Glucose [Moles/volume] in Blood',
            },
          ],
        },
        subject: { reference: 'Patient/f001', display: 'P. van de Heuvel' },
        effectivePeriod: { start: '2013-04-02T09:30:10+01:00' },
        valueQuantity: {
          value: 6.3,
          unit: 'mmol/l',
          system: 'http://unitsofmeasure.org',
          code: 'mmol/L',
        },
        interpretation: [
          {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
                code: 'H',
                display: 'High',
              },
            ],
          },
        ],
        referenceRange: [
          { low: { value: 3.1, unit: 'mmol/l' }, high: { value: 6.2, unit: 'mmol/l' } },
        ],
      },
    },
    {
      fullUrl: 'https://example.com/base/Observation/bp',
      resource: {
        resourceType: 'Observation',
        id: 'blood-pressure',
        status: 'final',
        code: { text: 'Blood pressure panel' },
        effectiveDateTime: '2012-09-17',
        component: [
          { code: { text: 'Systolic' }, valueQuantity: { value: 107, unit: 'mmHg' } },
          { code: { text: 'Diastolic' }, valueQuantity: { value: 60, unit: 'mmHg' } },
        ],
      },
    },
    {
      // Missing every optional field.
      resource: { resourceType: 'Observation', status: 'final', code: { text: 'Smoking status' } },
    },
    {
      fullUrl: 'urn:uuid:3fdc72f4-a11d-4a9d-9260-a9f745779e1d',
      resource: {
        resourceType: 'DiagnosticReport',
        id: 'ultrasound',
        status: 'final',
        code: {
          coding: [
            {
              system: 'http://snomed.info/sct',
              code: '45036003',
              display: 'Ultrasonography of abdomen',
            },
          ],
        },
        effectiveDateTime: '2012-12-01T12:00:00+01:00',
        conclusion: 'Unremarkable study',
        presentedForm: [
          {
            contentType: 'application/pdf',
            language: 'en-AU',
            data: b64(pdf),
            title: 'HTML Report',
            hash: sha1(pdf),
            size: pdf.length,
          },
        ],
      },
    },
    {
      resource: {
        resourceType: 'MedicationRequest',
        id: 'medrx0311',
        contained: [
          {
            resourceType: 'Medication',
            id: 'med0310',
            code: {
              coding: [
                {
                  system: 'http://snomed.info/sct',
                  code: '324252006',
                  display: 'Azithromycin 250mg capsule',
                },
              ],
            },
          },
        ],
        status: 'completed',
        intent: 'order',
        medicationReference: { reference: '#med0310' },
        subject: { reference: 'Patient/pat1' },
        authoredOn: '2015-01-15',
        requester: { reference: 'Practitioner/f007', display: 'Patrick Pump' },
        dosageInstruction: [
          { sequence: 1, text: 'Two tablets at once' },
          { text: 'then one tablet daily for four more days' },
        ],
      },
    },
    {
      resource: {
        resourceType: 'DocumentReference',
        id: 'example',
        status: 'current',
        subject: { reference: 'Patient/xcda' },
        content: [
          {
            attachment: {
              contentType: 'application/hl7-v3+xml',
              url: 'http://example.org/xds/mhd/Binary/07a6483f-732b-461e-86b6-edb665c45510',
              size: 3654,
              hash: '2jmj7l5rSw0yVb/vlWAYkK/YBwk=',
            },
          },
          { attachment: { contentType: 'text/plain', data: b64('Discharge summary: stable.') } },
        ],
      },
    },
    {
      resource: {
        resourceType: 'ImagingStudy',
        id: 'example',
        status: 'available',
        subject: { reference: 'Patient/dicom' },
      },
    },
    { request: { method: 'DELETE', url: 'Observation/old' } },
  ],
};
