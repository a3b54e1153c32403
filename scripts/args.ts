/**
 * Flags of the root scripts, read the same however a script is started:
 * `node scripts/x.ts --flag`, `pnpm run x --flag` and `pnpm run x -- --flag` (pnpm 12 passes the
 * `--` through to the script; here it is dropped when only the script's own words come before
 * it). `--help` prints the usage (exit 0); an unknown flag, a missing value or a stray argument
 * prints what was wrong and the usage (exit 2), never silence.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Drops the `--` pnpm passes through, when no flag comes before it (`up -- --nodes 3`). */
export function withoutPnpmSeparator(args: string[]): string[] {
  const at = args.indexOf('--');
  if (at < 0 || args.slice(0, at).some((a) => a.startsWith('-'))) return args;
  return [...args.slice(0, at), ...args.slice(at + 1)];
}

export class UsageError extends Error {}

/**
 * Parses `args` (default: this process's) strictly against `options`. `positionals` is how many
 * plain words the script takes (a subcommand, a node name). Throws UsageError; see scriptArgs
 * for the version that prints and exits.
 */
export function parseScriptArgs<O extends Options>(
  options: O,
  opts: { args?: string[]; positionals?: number } = {},
) {
  const args = withoutPnpmSeparator(opts.args ?? process.argv.slice(2));
  const max = opts.positionals ?? 0;
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    // Node's messages end with advice about "--" that does not apply to these scripts.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  if (parsed.positionals.length > max)
    throw new UsageError(`unexpected argument '${parsed.positionals[max]}'`);
  const values = parsed.values as {
    [K in keyof O]?: O[K]['type'] extends 'boolean'
      ? boolean
      : O[K]['multiple'] extends true
        ? string[]
        : string;
  } & { help?: boolean };
  return { values, positionals: parsed.positionals, help: values.help === true };
}

/** parseScriptArgs for a script's main: prints the usage on --help (exit 0) or an error (exit 2). */
export function scriptArgs<O extends Options>(
  usage: string,
  options: O,
  opts: { args?: string[]; positionals?: number } = {},
) {
  try {
    const r = parseScriptArgs(options, opts);
    if (r.help) {
      console.log(usage.trim());
      process.exit(0);
    }
    return r;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(usage, err.message);
  }
}

export function usageError(usage: string, message: string): never {
  console.error(`error: ${message}\n${usage.trim()}`);
  process.exit(2);
}

/**
 * An integer flag: the flag if given, else the environment variable (the older way to set it),
 * else the default; anything but an integer in [min, max] is a usage error naming the flag.
 */
export function intFlag(
  usage: string,
  flag: string,
  value: string | undefined,
  fallback: number,
  opts: { env?: string; min?: number; max?: number } = {},
): number {
  const raw = value ?? (opts.env ? process.env[opts.env] : undefined);
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  const min = opts.min ?? 0;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const from = value !== undefined ? `--${flag}` : `${opts.env} (for --${flag})`;
    return usageError(usage, `${from}: expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}
