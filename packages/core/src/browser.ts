/**
 * The browser-safe entry of @ehr/core (package.json "exports" condition "browser"): everything
 * except key files on disk and the node:crypto backends. Signatures and sealing use noble here
 * (the verification rule is the same, signature.ts), and the async operations (sealAsync,
 * signTxAsync) use Web Crypto's X25519 and Ed25519 where the browser has them (webcrypto.ts).
 */
export * from './block.ts';
export * from './bytes.ts';
export * from './crypto-async.ts';
export * from './encoding.ts';
export * from './entities.ts';
export * from './errors.ts';
export * from './hash.ts';
export * from './keyfile.ts';
export * from './merkle.ts';
export * from './node-status.ts';
export * from './purpose.ts';
export * from './random.ts';
export * from './seal.ts';
export * from './shape.ts';
export * from './signature.ts';
export * from './tx.ts';
export * from './tx-status.ts';
export * from './webcrypto.ts';
