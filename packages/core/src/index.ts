/**
 * The Node entry of @ehr/core: the browser-safe modules plus key files on disk and the native
 * (node:crypto) signature, X25519 and SHA-256 backends, which importing installs. Browsers get
 * browser.ts.
 */
export * from './browser.ts';
export * from './hash-native.ts';
export * from './keyfile-fs.ts';
export * from './seal-native.ts';
export * from './signature-native.ts';
