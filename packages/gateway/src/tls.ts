/**
 * TLS for the gateway: certificate and key files (PEM) named in the node config. The files are
 * read at start and again on reload (the daemon calls it on SIGHUP), so a renewed certificate
 * takes effect without a restart; a reload that fails keeps the old certificate.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { EhrError } from '@ehr/core';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export function readTls(files: TlsFiles): { cert: Buffer; key: Buffer } {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new EhrError(
        'TLS_UNREADABLE',
        `cannot read the gateway's TLS ${what} ${path}: ${(err as Error).message}`,
        { path },
      );
    }
  };
  const pair = { cert: read(files.certFile, 'certificate'), key: read(files.keyFile, 'key') };
  try {
    // Fails here, with the file names, on a certificate that does not match its key.
    createSecureContext(pair);
  } catch (err) {
    throw new EhrError(
      'TLS_INVALID',
      `the gateway's TLS certificate ${files.certFile} and key ${files.keyFile} do not load: ${(err as Error).message}`,
      { cert: files.certFile, key: files.keyFile },
    );
  }
  return pair;
}
