import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPair, isEhrError, loadKeyFile, saveKeyFile } from '../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ehr-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fast = { N: 1024, r: 8, p: 1 };

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (isEhrError(err)) return err.code;
    throw err;
  }
}

describe('key files', () => {
  it('saves with 0600 and loads back, plain (marked dev) and encrypted', () => {
    const pair = generateKeyPair();
    const plain = join(dir, 'plain.json');
    saveKeyFile(plain, pair, { dev: true, label: 'node1' });
    expect(statSync(plain).mode & 0o777).toBe(0o600);
    const loaded = loadKeyFile(plain);
    expect(loaded.secretKey).toEqual(pair.secretKey);
    expect(loaded.dev).toBe(true);
    const enc = join(dir, 'enc.json');
    saveKeyFile(enc, pair, { passphrase: 'correct horse', scrypt: fast });
    expect(readFileSync(enc, 'utf8')).not.toContain(Buffer.from(pair.secretKey).toString('hex'));
    expect(loadKeyFile(enc, 'correct horse').publicKey).toEqual(pair.publicKey);
  });

  it('gives clear errors: wrong passphrase, missing passphrase, corrupt, existing file', () => {
    const pair = generateKeyPair();
    const enc = join(dir, 'enc2.json');
    saveKeyFile(enc, pair, { passphrase: 'right', scrypt: fast });
    expect(code(() => loadKeyFile(enc, 'wrong'))).toBe('KEYFILE_BAD_PASSPHRASE');
    expect(code(() => loadKeyFile(enc))).toBe('KEYFILE_NEEDS_PASSPHRASE');
    expect(code(() => saveKeyFile(enc, pair, { dev: true }))).toBe('KEYFILE_EXISTS');
    // Secure by default: in the clear only as a marked development key.
    const bare = join(dir, 'bare.json');
    expect(code(() => saveKeyFile(bare, pair))).toBe('KEYFILE_UNPROTECTED');
    expect(existsSync(bare)).toBe(false);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format":"ehr-ledger-key","version":1,"publicKey":"zz"}');
    expect(() => loadKeyFile(bad)).toThrow(
      /bad\.json is not a valid ehr-ledger key file: publicKey/,
    );
    writeFileSync(bad, 'not json');
    expect(code(() => loadKeyFile(bad))).toBe('KEYFILE_CORRUPT');
    const j = JSON.parse(readFileSync(enc, 'utf8'));
    j.secret.ciphertext = j.secret.ciphertext.replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
    writeFileSync(bad, JSON.stringify(j));
    expect(code(() => loadKeyFile(bad, 'right'))).toBe('KEYFILE_BAD_PASSPHRASE');
    expect(code(() => loadKeyFile(join(dir, 'missing.json')))).toBe('KEYFILE_UNREADABLE');
  });
});
