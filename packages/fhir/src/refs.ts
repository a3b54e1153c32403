/**
 * A reference that fits any Reference<T> field (the target's type is checked by the FHIR
 * validator in the tests, not by TypeScript).
 */
export type AnyRef = Reference<never>;

/** Bundle-local references: every entry's fullUrl is a urn:uuid derived from its type and id. */
import { sha256, toHex, utf8 } from '@ehr/core';
import type { Reference, Resource } from '@medplum/fhirtypes';

export type ResourceType = Resource['resourceType'];

/** A stable urn:uuid for a resource (the same record always gets the same one). */
export function fullUrlOf(type: string, id: string): string {
  const h = toHex(sha256(utf8(`${type}/${id}`)));
  // RFC 9562 layout, version 8 (custom), variant 10.
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function refTo(type: ResourceType, id: string, display?: string): AnyRef {
  return { reference: fullUrlOf(type, id), type, ...(display ? { display } : {}) };
}

/** A reference by identifier, for things that are not in the bundle. */
export function refById(
  type: ResourceType,
  system: string,
  value: string,
  display?: string,
): AnyRef {
  return { type, identifier: { system, value }, ...(display ? { display } : {}) };
}
