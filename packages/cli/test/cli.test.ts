/**
 * The `ehr` binary without a network: help on every command, argument errors and their exit
 * codes, an unreachable node, and the key file round trip (new, show, export, import).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram, EXIT, runCli } from '../src/program.ts';
import { ehr, ehrJson, freePort } from './ehr.ts';

const dir = mkdtempSync(join(tmpdir(), 'ehr-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function leaves(c: Command, path: string[] = []): string[][] {
  if (c.commands.length === 0) return [path];
  return c.commands.flatMap((s) => leaves(s, [...path, s.name()]));
}

describe('help', () => {
  it('the binary prints help with the exit codes', async () => {
    const r = await ehr(['--help']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/Usage: ehr/);
    for (const group of ['keys', 'node', 'chain', 'admin', 'patient', 'doctor', 'genesis']) {
      expect(r.stdout).toContain(group);
    }
    expect(r.stdout).toMatch(/Exit codes:[\s\S]*7 {2}chain verify found a bad block/);
  });

  it('every command has help with an example', async () => {
    const all = leaves(buildProgram().program);
    expect(all.length).toBeGreaterThan(30);
    for (const path of all) {
      let out = '';
      const code = await runCli([...path, '--help'], {
        out: (s) => (out += s),
        err: (s) => (out += s),
      });
      expect(code, path.join(' ')).toBe(EXIT.OK);
      expect(out, path.join(' ')).toMatch(/Example:\n {2}(\w+=\S+ )?ehr /);
    }
  });

  it('a group without a subcommand shows its commands and is a usage error', async () => {
    const r = await ehr(['patient']);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(/report\s/);
    expect(r.stderr).toMatch(/share \[options\]/);
  });
});

describe('argument errors', () => {
  it('unknown commands and options, missing required options: exit 2 with a hint', async () => {
    const unknown = await ehr(['patient', 'shred']);
    expect(unknown.code).toBe(EXIT.USAGE);
    expect(unknown.stderr).toMatch(/unknown command 'shred'/);
    const opt = await ehr(['chain', 'status', '--colour']);
    expect(opt.code).toBe(EXIT.USAGE);
    expect(opt.stderr).toMatch(/unknown option '--colour'/);
    const missing = await ehr(['patient', 'share']);
    expect(missing.code).toBe(EXIT.USAGE);
    expect(missing.stderr).toMatch(/required option '--hospital <id>' not specified/);
    expect(missing.stderr).toMatch(/add --help for usage/);
  });

  it('commands that sign need --key, and say how to get one', async () => {
    const r = await ehr(['patient', 'reports']);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(/pass --key <keyfile> \(or set EHR_KEY\)/);
    expect(r.stderr).not.toMatch(/ at /); // no stack trace without --verbose
  });

  it('bad values are usage errors naming the option; --verbose adds the stack', async () => {
    const block = await ehr(['chain', 'block', 'twelve']);
    expect(block.code).toBe(EXIT.USAGE);
    expect(block.stderr).toMatch(/height: expected a whole number/);
    const expires = await ehr([
      'patient',
      'share',
      '--hospital',
      'x',
      '--expires',
      'soon',
      '--key',
      'k',
    ]);
    expect(expires.code).toBe(EXIT.USAGE);
    expect(expires.stderr).toMatch(/--expires: expected a date .* or a duration/);
    const both = await ehr([
      'doctor',
      'prescribe',
      '--report',
      'r',
      '--key',
      'k',
      '--text',
      'a',
      '--file',
      'b',
    ]);
    expect(both.code).toBe(EXIT.USAGE);
    expect(both.stderr).toMatch(/give --text or --file, not both/);
    const verbose = await ehr(['chain', 'block', 'twelve', '--verbose']);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });

  it('a node that is not there: exit 3 naming the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}/`;
    const r = await ehr(['node', 'status', '--rpc', url]);
    expect(r.code).toBe(EXIT.UNREACHABLE);
    expect(r.stderr).toContain(`cannot reach the node at ${url}`);
    const viaEnv = await ehr(['chain', 'verify'], { env: { EHR_RPC: url } });
    expect(viaEnv.code).toBe(EXIT.UNREACHABLE);
  });
});

describe('keys', () => {
  it('new, show, export and import round trip, encrypted with a passphrase from the environment', async () => {
    const a = join(dir, 'a.key.json');
    const env = { A_PASS: 'correct horse', B_PASS: 'battery staple' };
    const made = await ehrJson<{ publicKey: string; encrypted: boolean }>(
      ['keys', 'new', a, '--passphrase-env', 'A_PASS'],
      { env },
    );
    expect(made.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(made.encrypted).toBe(true);
    expect(statSync(a).mode & 0o777).toBe(0o600);
    expect(readFileSync(a, 'utf8')).not.toMatch(/"plain"/);

    // Encrypted: show needs the passphrase (exit 2 says where to put it); a wrong one is denied.
    const locked = await ehr(['keys', 'show', a]);
    expect(locked.code).toBe(EXIT.USAGE);
    expect(locked.stderr).toMatch(/is encrypted: put its passphrase in EHR_KEY_PASSPHRASE/);
    const wrong = await ehr(['keys', 'show', a], { env: { EHR_KEY_PASSPHRASE: 'nope' } });
    expect(wrong.code).toBe(EXIT.DENIED);
    expect(wrong.stderr).toMatch(/wrong passphrase/);
    const shown = await ehrJson<{ publicKey: string }>(
      ['keys', 'show', a, '--passphrase-env', 'A_PASS'],
      { env },
    );
    expect(shown.publicKey).toBe(made.publicKey);
    // The default variable works too.
    const byDefault = await ehrJson<{ publicKey: string }>(['keys', 'show', a], {
      env: { EHR_KEY_PASSPHRASE: env.A_PASS },
    });
    expect(byDefault.publicKey).toBe(made.publicKey);

    // Export refuses to print the secret unless asked; --out writes a 0600 file.
    const refused = await ehr(['keys', 'export', a, '--passphrase-env', 'A_PASS'], { env });
    expect(refused.code).toBe(EXIT.USAGE);
    expect(refused.stdout).toBe('');
    const secretFile = join(dir, 'a.secret');
    await ehrJson(['keys', 'export', a, '--out', secretFile, '--passphrase-env', 'A_PASS'], {
      env,
    });
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const secret = readFileSync(secretFile, 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const revealed = await ehr(['keys', 'export', a, '--reveal', '--passphrase-env', 'A_PASS'], {
      env,
    });
    expect(revealed.stdout.trim()).toBe(secret);

    // Import from stdin under another passphrase, from a file, from an env var: same key.
    const b = join(dir, 'b.key.json');
    const imported = await ehrJson<{ publicKey: string }>(
      ['keys', 'import', b, '--passphrase-env', 'B_PASS'],
      {
        env,
        input: `${secret}\n`,
      },
    );
    expect(imported.publicKey).toBe(made.publicKey);
    expect(
      (
        await ehrJson<{ publicKey: string }>(['keys', 'show', b, '--passphrase-env', 'B_PASS'], {
          env,
        })
      ).publicKey,
    ).toBe(made.publicKey);
    const c = join(dir, 'c.key.json');
    expect(
      (
        await ehrJson<{ publicKey: string }>([
          'keys',
          'import',
          c,
          '--secret-file',
          secretFile,
          '--dev',
        ])
      ).publicKey,
    ).toBe(made.publicKey);
    const d = join(dir, 'd.key.json');
    expect(
      (
        await ehrJson<{ publicKey: string }>(['keys', 'import', d, '--secret-env', 'SECRET'], {
          env: { SECRET: secret, EHR_KEY_PASSPHRASE: 'from the default variable' },
        })
      ).publicKey,
    ).toBe(made.publicKey);

    // Never overwrites a key file; rejects a secret that is not 64 hex.
    const again = await ehr(['keys', 'new', a, '--dev']);
    expect(again.code).toBe(EXIT.FAILURE);
    expect(again.stderr).toMatch(/already exists; refusing to overwrite/);
    const junk = await ehr(['keys', 'import', join(dir, 'e.key.json'), '--dev'], {
      input: 'xyz',
    });
    expect(junk.code).toBe(EXIT.USAGE);
    expect(junk.stderr).toMatch(/64 hex characters/);
  });

  it('secure by default: no passphrase and no --dev is refused, and nothing is written', async () => {
    for (const args of [
      ['keys', 'new', join(dir, 'bare.key.json')],
      ['keys', 'import', join(dir, 'bare.key.json')],
      ['node', 'init', '--dir', join(dir, 'bare-node')],
    ]) {
      const r = await ehr(args, { input: `${'ab'.repeat(32)}\n` });
      expect(r.code, args.join(' ')).toBe(EXIT.USAGE);
      expect(r.stderr, args.join(' ')).toMatch(
        /refusing to write an unencrypted key: put a passphrase in EHR_KEY_PASSPHRASE \(or name another variable with --passphrase-env\), or pass --dev/,
      );
    }
    expect(existsSync(join(dir, 'bare.key.json'))).toBe(false);
    expect(existsSync(join(dir, 'bare-node'))).toBe(false);
    // EHR_KEY_PASSPHRASE alone encrypts; --dev alone writes a marked development key.
    const enc = join(dir, 'enc.key.json');
    const made = await ehrJson<{ encrypted: boolean }>(['keys', 'new', enc], {
      env: { EHR_KEY_PASSPHRASE: 'correct horse' },
    });
    expect(made.encrypted).toBe(true);
    expect(JSON.parse(readFileSync(enc, 'utf8')).secret.type).toBe('scrypt');
    const dev = join(dir, 'marked.key.json');
    expect((await ehrJson<{ dev: boolean }>(['keys', 'new', dev, '--dev'])).dev).toBe(true);
    expect(JSON.parse(readFileSync(dev, 'utf8'))).toMatchObject({
      dev: true,
      secret: { type: 'plain' },
    });
    const both = await ehr(
      ['keys', 'new', join(dir, 'x.key.json'), '--dev', '--passphrase-env', 'P'],
      {
        env: { P: 'x' },
      },
    );
    expect(both.code).toBe(EXIT.USAGE);
    // node init with the default variable writes a config that names it (the daemon unlocks so).
    const node = join(dir, 'enc-node');
    await ehrJson(['node', 'init', '--dir', node, '--no-metrics'], {
      env: { EHR_KEY_PASSPHRASE: 'node pass' },
    });
    expect(readFileSync(join(node, 'node.yaml'), 'utf8')).toMatch(
      /^keyPassphraseEnv: EHR_KEY_PASSPHRASE$/m,
    );
    expect(JSON.parse(readFileSync(join(node, 'node.key.json'), 'utf8')).secret.type).toBe(
      'scrypt',
    );
  });

  it('public keys are accepted as hex or as key files where a key is expected', async () => {
    const f = join(dir, 'dev.key.json');
    const k = await ehrJson<{ publicKey: string }>(['keys', 'new', f, '--dev']);
    const g = join(dir, 'genesis.json');
    await ehrJson([
      'genesis',
      'new',
      '--chain-id',
      'cli-test',
      '--admin',
      f,
      '--validator',
      k.publicKey,
      '--out',
      g,
    ]);
    const genesis = JSON.parse(readFileSync(g, 'utf8')) as {
      admins: string[];
      validators: string[];
    };
    expect(genesis.admins).toEqual([k.publicKey]);
    expect(genesis.validators).toEqual([k.publicKey]);
    writeFileSync(join(dir, 'not-a-key.json'), '{}');
    const bad = await ehr([
      'genesis',
      'new',
      '--chain-id',
      'x',
      '--admin',
      join(dir, 'not-a-key.json'),
      '--validator',
      k.publicKey,
    ]);
    expect(bad.code).toBe(EXIT.USAGE);
    expect(bad.stderr).toMatch(/--admin: .* is not an ehr-ledger key file/);
  });
});
