/**
 * The browser-safe entry of @ehr/api (package.json "exports" condition "browser"): everything
 * but the validator (schema.ts), which compiles schemas with `new Function` (the portal's CSP
 * forbids it) and pulls ajv into the bundle. The portal does not validate: the gateway does.
 */

export * from './admin-ops.ts';
export * from './client.ts';
export * from './directory.ts';
export * from './doctor-ops.ts';
export * from './ehr-client.ts';
export * from './ehr-types.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './methods.ts';
export * from './methods-doc.ts';
export * from './nesting.ts';
export * from './patient-ops.ts';
export * from './read-auth.ts';
export * from './results.ts';
export * from './schema-shape.ts';
export * from './sealing.ts';
export * from './session.ts';
