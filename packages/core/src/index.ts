/**
 * The Node entry of @ehr/core: the browser-safe modules plus key files on disk and the native
 * (node:crypto) signature and X25519 backends, which importing installs. Browsers get browser.ts.
 */
export * from './browser.ts';
export * from './keyfile-fs.ts';
export * from './seal-native.ts';
export * from './signature-native.ts';
