/**
 * The asynchronous crypto operations of the client (sealing a data key for a reader, signing):
 * their backend is the synchronous one by default (noble; node:crypto under Node), and Web
 * Crypto in a browser that has X25519 and Ed25519 (webcrypto.ts). Every backend computes the
 * same functions as noble; tests hold them to it.
 */
export interface AsyncCryptoBackend {
  name: string;
  /**
   * A fresh ephemeral X25519 key pair and its shared secret with `publicKey` (u): returns the
   * ephemeral public key and the shared secret; throws on a low-order u.
   */
  ephemeralShared(publicKey: Uint8Array): Promise<{ ephemeral: Uint8Array; shared: Uint8Array }>;
  /** Ed25519 (RFC 8032, deterministic): the same bytes as the sync sign. */
  sign(message: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array>;
}

let asyncBackend: AsyncCryptoBackend | undefined;

/** Installs the async backend (the browser entry installs Web Crypto's; Node the native one). */
export function useAsyncCryptoBackend(b: AsyncCryptoBackend | undefined): void {
  asyncBackend = b;
}

/** The installed async backend, or undefined: the sync one then serves (seal.ts, tx.ts). */
export function asyncCryptoBackend(): AsyncCryptoBackend | undefined {
  return asyncBackend;
}
