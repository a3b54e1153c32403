/**
 * What every command needs: global options, output (table or --json), the RPC client, and the
 * account key loaded from --key (its passphrase from an environment variable, never argv).
 */
import { readFileSync } from 'node:fs';
import { Directory, EhrClient, RpcClient, Session } from '@ehr/api';
import { EhrError, fromHex, generateSecretKey, loadKeyFile } from '@ehr/core';
import type { Command } from 'commander';
import { usage } from './errors.ts';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Whether stderr is a terminal (progress lines redraw in place). */
  errIsTty?: boolean;
}

export interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
  rpc: string;
  key?: string;
  passphraseEnv?: string;
}

/** Where a key file's passphrase is looked up when --passphrase-env is not given. */
export const DEFAULT_PASSPHRASE_ENV = 'EHR_KEY_PASSPHRASE';
export const DEFAULT_RPC = 'http://127.0.0.1:8545/';

export class Ctx {
  readonly program: Command;
  readonly io: Io;
  /** Set by a command that printed its result but must still fail (e.g. verify found a bad block). */
  exitCode: number | undefined;
  constructor(program: Command, io: Io) {
    this.program = program;
    this.io = io;
  }

  get opts(): GlobalOptions {
    return this.program.opts() as GlobalOptions;
  }

  get json(): boolean {
    return this.opts.json === true;
  }

  /** `--json`: the value as JSON; otherwise the human rendering. */
  print(value: unknown, human: () => string): void {
    this.io.out(this.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
  }

  /** A note for people (stderr, so --json output stays parseable). */
  note(s: string): void {
    this.io.err(`${s}\n`);
  }

  rpc(): RpcClient {
    return new RpcClient(this.opts.rpc);
  }

  /** The passphrase named by --passphrase-env (explicit), or the default variable if set. */
  passphrase(explicitEnv = this.opts.passphraseEnv): string | undefined {
    const name = explicitEnv ?? DEFAULT_PASSPHRASE_ENV;
    const v = process.env[name];
    if (explicitEnv && !v) throw usage(`environment variable ${explicitEnv} is empty or unset`);
    return v || undefined;
  }

  /**
   * How a new key file is protected (secure by default): encrypted with the passphrase named by
   * --passphrase-env or in EHR_KEY_PASSPHRASE, or, with --dev, unencrypted and marked as a
   * development key. Neither is a usage error that says how.
   */
  newKeyProtection(dev: boolean | undefined): { passphrase: string } | { dev: true } {
    if (dev) {
      if (this.opts.passphraseEnv)
        throw usage('--dev writes an unencrypted development key: drop --dev or --passphrase-env');
      return { dev: true };
    }
    const passphrase = this.passphrase();
    if (passphrase) return { passphrase };
    throw usage(
      `refusing to write an unencrypted key: put a passphrase in ${DEFAULT_PASSPHRASE_ENV} (or name another variable with --passphrase-env), or pass --dev for a development key (unencrypted, marked so)`,
    );
  }

  loadKey(file: string, passphraseEnv?: string) {
    try {
      return loadKeyFile(file, this.passphrase(passphraseEnv));
    } catch (err) {
      if (err instanceof EhrError && err.code === 'KEYFILE_NEEDS_PASSPHRASE') {
        throw new EhrError(
          'KEYFILE_NEEDS_PASSPHRASE',
          `${file} is encrypted: put its passphrase in ${passphraseEnv ?? this.opts.passphraseEnv ?? DEFAULT_PASSPHRASE_ENV} (or name another variable with --passphrase-env)`,
          { file },
        );
      }
      throw err;
    }
  }

  /** The account key from --key (or EHR_KEY); commands that sign need it. */
  accountKey(): Uint8Array {
    const file = this.opts.key;
    if (!file) {
      throw new EhrError(
        'KEY_REQUIRED',
        'this command signs as you: pass --key <keyfile> (or set EHR_KEY); create one with: ehr keys new <file>',
        {},
      );
    }
    return this.loadKey(file).secretKey;
  }

  /** Public reads (hospitals, doctors, governance) sign nothing, so they need no --key. */
  directory(): Directory {
    return new Directory(this.publicSession());
  }

  /** A session for public lists (it signs nothing). */
  publicSession(): Session {
    return new Session(this.rpc(), generateSecretKey());
  }

  client(opts: { hospitalKey?: string; hospitalPassphraseEnv?: string } = {}): EhrClient {
    const hospitalSecretKey = opts.hospitalKey
      ? this.loadKey(opts.hospitalKey, opts.hospitalPassphraseEnv).secretKey
      : undefined;
    return new EhrClient(this.rpc(), this.accountKey(), {
      ...(hospitalSecretKey ? { hospitalSecretKey } : {}),
    });
  }
}

/**
 * A public key given as 64 hex characters or as a key file (its public half is read without
 * the passphrase: public keys are stored in the clear).
 */
export function publicKeyArg(v: string, what: string): string {
  if (/^[0-9a-f]{64}$/.test(v)) return v;
  let text: string;
  try {
    text = readFileSync(v, 'utf8');
  } catch {
    throw usage(`${what}: expected a public key (64 hex characters) or a key file, got "${v}"`);
  }
  try {
    const j = JSON.parse(text) as { format?: string; publicKey?: string };
    if (j.format === 'ehr-ledger-key' && typeof j.publicKey === 'string') {
      fromHex(j.publicKey);
      return j.publicKey;
    }
  } catch {
    // fall through
  }
  throw usage(`${what}: ${v} is not an ehr-ledger key file`);
}

/** A positive integer option. */
export function intArg(v: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw usage(`${what}: expected a whole number from ${min} to ${max}, got "${v}"`);
  }
  return n;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** An instant: an ISO date/time (`2026-12-31`, `2026-12-31T18:00:00Z`) or a duration from now (`90d`, `12h`). */
export function timeArg(v: string, what: string, now = Date.now()): number {
  const rel = /^(\d+)([mhdw])$/.exec(v);
  if (rel) return now + Number(rel[1]) * UNITS[rel[2]!]!;
  const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) {
    throw usage(
      `${what}: expected a date (2026-12-31 or 2026-12-31T18:00:00Z) or a duration (90d, 12h, 30m, 2w), got "${v}"`,
    );
  }
  return t;
}
