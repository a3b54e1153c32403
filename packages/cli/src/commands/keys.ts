/** `ehr keys`: create, inspect, import and export Ed25519 key files. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fromHex, generateKeyPair, publicKeyOf, saveKeyFile, toHex } from '@ehr/core';
import type { Command } from 'commander';
import type { Ctx } from '../context.ts';
import { usage } from '../errors.ts';
import { fields } from '../output.ts';

const example = (lines: string) => `\nExample:\n${lines}\n`;

function readSecret(o: { secretEnv?: string; secretFile?: string }): Uint8Array {
  let text: string;
  if (o.secretEnv) {
    text = process.env[o.secretEnv] ?? '';
    if (!text) throw usage(`environment variable ${o.secretEnv} is empty or unset`);
  } else {
    // A file, or stdin ("-" or nothing): never argv, which other users can see.
    const from = o.secretFile ?? '-';
    try {
      text = readFileSync(from === '-' ? 0 : from, 'utf8');
    } catch (err) {
      throw usage(
        `cannot read the secret key from ${from === '-' ? 'stdin' : from}: ${(err as Error).message}`,
      );
    }
  }
  const hex = text.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw usage('expected the secret key as 64 hex characters (an Ed25519 seed)');
  }
  return fromHex(hex);
}

export function registerKeys(program: Command, ctx: Ctx): void {
  const keys = program
    .command('keys')
    .description('create, inspect, import and export key files')
    .addHelpText('after', example('  ehr keys new alice.key.json --passphrase-env EHR_PASS'));

  keys
    .command('new')
    .description(
      'generate an Ed25519 key into a new file (mode 0600), encrypted with the passphrase in EHR_KEY_PASSPHRASE (or --passphrase-env), or --dev',
    )
    .argument('<file>', 'where to write the key (never overwritten)')
    .option('--dev', 'an unencrypted development key, marked so (never for production)')
    .option('--label <text>', 'a label stored in the file')
    .addHelpText(
      'after',
      example(
        '  EHR_KEY_PASSPHRASE=... ehr keys new alice.key.json\n  ehr keys new dev.key.json --dev',
      ),
    )
    .action((file: string, o: { dev?: boolean; label?: string }) => {
      const protection = ctx.newKeyProtection(o.dev);
      const pair = generateKeyPair();
      saveKeyFile(file, pair, { ...protection, ...(o.label ? { label: o.label } : {}) });
      const publicKey = toHex(pair.publicKey);
      const encrypted = 'passphrase' in protection;
      ctx.print({ file, publicKey, encrypted, dev: !encrypted }, () =>
        fields([
          ['wrote', file],
          ['public key', publicKey],
          ['encrypted', encrypted ? 'yes' : 'no: a development key (never use in production)'],
        ]),
      );
    });

  keys
    .command('show')
    .description('print the public key of a key file (unlocks it to check it when encrypted)')
    .argument('<file>')
    .addHelpText('after', example('  ehr keys show alice.key.json --json'))
    .action((file: string) => {
      const k = ctx.loadKey(file);
      const publicKey = toHex(k.publicKey);
      ctx.print({ file, publicKey, dev: k.dev, label: k.label ?? null }, () =>
        fields([
          ['public key', publicKey],
          ...(k.label ? ([['label', k.label]] as [string, string][]) : []),
          ...(k.dev
            ? ([['note', 'development key: never use in production']] as [string, string][])
            : []),
        ]),
      );
    });

  keys
    .command('import')
    .description(
      'write a key file from a secret key (64 hex) read from stdin, a file or an env var',
    )
    .argument('<file>', 'the key file to write')
    .option('--secret-file <path>', 'read the secret key from this file ("-" = stdin, the default)')
    .option('--secret-env <var>', 'read the secret key from this environment variable')
    .option('--label <text>', 'a label stored in the file')
    .option('--dev', 'write an unencrypted development key, marked so (never for production)')
    .addHelpText(
      'after',
      example('  ehr keys import alice.key.json --passphrase-env EHR_PASS < alice.secret'),
    )
    .action(
      (
        file: string,
        o: { secretFile?: string; secretEnv?: string; label?: string; dev?: boolean },
      ) => {
        if (o.secretFile && o.secretEnv)
          throw usage('give --secret-file or --secret-env, not both');
        const protection = ctx.newKeyProtection(o.dev);
        const secretKey = readSecret(o);
        const pair = { secretKey, publicKey: publicKeyOf(secretKey) };
        saveKeyFile(file, pair, { ...protection, ...(o.label ? { label: o.label } : {}) });
        const publicKey = toHex(pair.publicKey);
        ctx.print({ file, publicKey, encrypted: 'passphrase' in protection }, () =>
          fields([
            ['wrote', file],
            ['public key', publicKey],
          ]),
        );
      },
    );

  keys
    .command('export')
    .description(
      'write out the secret key (64 hex): to a new 0600 file with --out, or stdout with --reveal',
    )
    .argument('<file>', 'the key file')
    .option('--out <path>', 'write the secret key to this new file (mode 0600)')
    .option('--reveal', 'print the secret key on stdout')
    .addHelpText('after', example('  ehr keys export alice.key.json --out alice.secret'))
    .action((file: string, o: { out?: string; reveal?: boolean }) => {
      if (!o.out && !o.reveal) {
        throw usage('the secret key would be shown: pass --out <file>, or --reveal to print it');
      }
      const k = ctx.loadKey(file);
      const secret = toHex(k.secretKey);
      if (o.out) {
        try {
          writeFileSync(o.out, `${secret}\n`, { mode: 0o600, flag: 'wx' });
        } catch (err) {
          throw usage(`cannot write ${o.out}: ${(err as Error).message}`);
        }
        ctx.print(
          { file: o.out, publicKey: toHex(k.publicKey) },
          () => `wrote the secret key to ${o.out}`,
        );
        return;
      }
      ctx.print({ publicKey: toHex(k.publicKey), secretKey: secret }, () => secret);
    });
}
