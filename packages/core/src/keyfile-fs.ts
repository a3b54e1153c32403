/**
 * Key files on disk (Node only): written with 0600 permissions, never overwritten unless asked.
 * Importing this module also installs node:crypto's scrypt for key files (the same function as
 * noble's, several times faster).
 */
import { scryptSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { EhrError } from './errors.ts';
import {
  type KeyFileOptions,
  type KeyPair,
  keyFileJson,
  type ParsedKeyFile,
  parseKeyFile,
  useScrypt,
} from './keyfile.ts';

useScrypt(
  (passphrase, salt, s) =>
    new Uint8Array(
      scryptSync(passphrase, salt, 32, {
        N: s.N,
        r: s.r,
        p: s.p,
        maxmem: 256 * s.N * s.r + 1024 * 1024,
      }),
    ),
);

/** Writes a key file readable by its owner only; refuses to overwrite unless `overwrite`. */
export function saveKeyFile(
  path: string,
  pair: KeyPair,
  opts: KeyFileOptions & { overwrite?: boolean } = {},
): void {
  const text = keyFileJson(pair, opts); // refuses an unprotected non-dev key before any write
  try {
    writeFileSync(path, text, {
      mode: 0o600,
      flag: opts.overwrite ? 'w' : 'wx',
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new EhrError('KEYFILE_EXISTS', `${path} already exists; refusing to overwrite a key`, {
        path,
      });
    }
    throw new EhrError('KEYFILE_WRITE_FAILED', `cannot write ${path}: ${(err as Error).message}`, {
      path,
    });
  }
}

export function loadKeyFile(path: string, passphrase?: string): ParsedKeyFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EhrError(
      'KEYFILE_UNREADABLE',
      `cannot read key file ${path}: ${(err as Error).message}`,
      { path },
    );
  }
  return parseKeyFile(text, path, passphrase);
}
