import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  isEhrError,
  keyFileJson,
  keyFileJsonAsync,
  keyFilePublicKey,
  parseKeyFile,
  parseKeyFileAsync,
} from '../src/index.ts';

const fast = { N: 2 ** 10, r: 8, p: 1 };

describe('key files: browser (noble scrypt, async) and Node (native scrypt) agree', () => {
  it('a file written by the async noble path opens with the native path, and the reverse', async () => {
    const pair = generateKeyPair();
    const progress: number[] = [];
    const web = await keyFileJsonAsync(pair, {
      passphrase: 'correct horse',
      scrypt: fast,
      onProgress: (f) => progress.push(f),
    });
    expect(parseKeyFile(web, 'web.json', 'correct horse').secretKey).toEqual(pair.secretKey);
    const cli = keyFileJson(pair, { passphrase: 'battery staple', scrypt: fast });
    const opened = await parseKeyFileAsync(cli, 'cli.json', 'battery staple');
    expect(opened.secretKey).toEqual(pair.secretKey);
    expect(keyFilePublicKey(cli, 'cli.json')).toMatchObject({ encrypted: true });
    expect(progress.length).toBeGreaterThan(0);
  });

  it('the default parameters (N = 2^15) give the same key both ways', async () => {
    const pair = generateKeyPair();
    const cli = keyFileJson(pair, { passphrase: 'p' });
    expect((await parseKeyFileAsync(cli, 'cli.json', 'p')).publicKey).toEqual(pair.publicKey);
  });

  it('wrong passphrase, absurd parameters and damaged fields are refused with codes', async () => {
    const pair = generateKeyPair();
    const cli = keyFileJson(pair, { passphrase: 'right', scrypt: fast });
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: unknown) => (isEhrError(e) ? e.code : String(e)),
      );
    expect(await code(parseKeyFileAsync(cli, 'f', 'wrong'))).toBe('KEYFILE_BAD_PASSPHRASE');
    expect(await code(parseKeyFileAsync(cli, 'f'))).toBe('KEYFILE_NEEDS_PASSPHRASE');
    const huge = cli.replace('"N": 1024', '"N": 1073741824');
    expect(await code(parseKeyFileAsync(huge, 'f', 'right'))).toBe('KEYFILE_CORRUPT');
    const noSalt = cli.replace(/"salt": "[0-9a-f]+"/, '"salt": "zz"');
    expect(await code(parseKeyFileAsync(noSalt, 'f', 'right'))).toBe('KEYFILE_CORRUPT');
  });

  it('the browser entry imports no node: module (transitively, within core)', () => {
    const src = join(import.meta.dirname, '../src');
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(src, file), 'utf8');
      expect(text, file).not.toMatch(/from 'node:/);
      for (const m of text.matchAll(/from '\.\/([a-z0-9-]+\.ts)'/g)) visit(m[1]!);
    };
    visit('browser.ts');
    expect(seen.has('keyfile-fs.ts')).toBe(false);
    expect(seen.size).toBeGreaterThan(8);
  });
});
