/**
 * The `ehr` command. One factory builds the commander program so tests run the same thing the
 * binary does; this is the only package that reads argv or decides exit codes. Command groups
 * live in commands/*.ts.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { registerAdmin } from './commands/admin.ts';
import { registerChain } from './commands/chain.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerFhir } from './commands/fhir.ts';
import { registerGenesis } from './commands/genesis.ts';
import { registerKeys } from './commands/keys.ts';
import { registerNode } from './commands/node.ts';
import { registerPatient } from './commands/patient.ts';
import { Ctx, DEFAULT_PASSPHRASE_ENV, DEFAULT_RPC, type Io } from './context.ts';
import { describeError, EXIT, EXIT_HELP } from './errors.ts';

export type { Io } from './context.ts';
export { EXIT } from './errors.ts';

const defaultIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  errIsTty: process.stderr.isTTY === true,
};

export function buildProgram(io: Io = defaultIo): { program: Command; ctx: Ctx } {
  const program = new Command('ehr')
    .description('ehr-ledger: a permissioned ledger for electronic health records')
    .addOption(
      new Option('--rpc <url>', 'gateway URL of the node').env('EHR_RPC').default(DEFAULT_RPC),
    )
    .addOption(
      new Option('--key <keyfile>', 'your key file (signs transactions and reads)').env('EHR_KEY'),
    )
    .option(
      '--passphrase-env <var>',
      `environment variable holding the key file passphrase (default ${DEFAULT_PASSPHRASE_ENV}); with keys new/import and node init: encrypt with it`,
    )
    .option('--json', 'machine-readable output on stdout')
    .option('--verbose', 'stack traces on errors')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `\nExamples:\n  ehr node status\n  ehr patient reports --key alice.key.json\n  ehr chain verify --rpc http://127.0.0.1:8545/\n${EXIT_HELP}\n`,
    );
  const ctx = new Ctx(program, io);
  registerKeys(program, ctx);
  registerGenesis(program, ctx);
  registerNode(program, ctx);
  registerChain(program, ctx);
  registerAdmin(program, ctx);
  registerPatient(program, ctx);
  registerDoctor(program, ctx);
  registerFhir(program, ctx);
  // Every subcommand reports errors through runCli and shares the global output settings.
  const walk = (c: Command) => {
    for (const sub of c.commands) {
      sub.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
      sub.showHelpAfterError('(add --help for usage)');
      walk(sub);
    }
  };
  walk(program);
  return { program, ctx };
}

export async function runCli(argv: string[], io: Io = defaultIo): Promise<number> {
  const { program, ctx } = buildProgram(io);
  try {
    // `pnpm run ehr -- --rpc ...` hands the `--` on (pnpm 12); in front of everything it can
    // only be that, so it is dropped (a `--` later still ends the options, as usual).
    await program.parseAsync(argv[0] === '--' ? argv.slice(1) : argv, { from: 'user' });
    return ctx.exitCode ?? EXIT.OK;
  } catch (err) {
    const e = err as { code?: string };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // --help and --version succeed; a group called without a subcommand (help shown) and
      // anything commander refused are usage errors.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version'
        ? EXIT.OK
        : EXIT.USAGE;
    }
    const opts = program.opts() as { verbose?: boolean; rpc?: string; json?: boolean };
    const d = describeError(err, opts.rpc ?? DEFAULT_RPC);
    if (opts.json) {
      // Scripts get the error as JSON too (stderr; stdout stays empty on failure).
      const code = (err as { code?: unknown }).code;
      const data = (err as { data?: { code?: unknown } }).data;
      const reason =
        typeof code === 'string' ? code : typeof data?.code === 'string' ? data.code : null;
      io.err(`${JSON.stringify({ error: { exit: d.exit, code: reason, message: d.message } })}\n`);
    } else {
      io.err(`error: ${d.message}\n`);
    }
    if (opts.verbose && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
    return d.exit;
  }
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}
