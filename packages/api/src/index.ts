/** The Node entry of @ehr/api: the browser-safe entry plus the validator (schema.ts, ajv). */
export * from './browser.ts';
export * from './schema.ts';
