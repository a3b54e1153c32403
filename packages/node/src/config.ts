/**
 * Node configuration: a YAML or JSON file, validated by ajv against one JSON Schema
 * (config-schema.ts, which also generates the reference table in the README), with errors that
 * name the file, the key and what is expected. Relative paths resolve against the config file's directory, so a config
 * directory can be moved (or mounted into a container) as a whole.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { EhrError } from '@ehr/core';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { CONFIG_SCHEMA, type ConfigSchema, expectedOf, type LOG_LEVELS } from './config-schema.ts';
import type { ScrubConfig } from './scrubber.ts';

export interface NodeConfig {
  /** Human name for logs and status (e.g. the hospital's short name). */
  name: string;
  dataDir: string;
  /** Node key file (its Ed25519 key is both libp2p identity and validator key). */
  keyFile: string;
  /** Passphrase source for an encrypted key file: an environment variable name. */
  keyPassphraseEnv?: string;
  genesisFile: string;
  p2p: { listen: string[]; announce: string[]; bootstrap: string[] };
  gateway: {
    host: string;
    port: number;
    allowRemote: boolean;
    /** HTTPS with these PEM files (re-read on SIGHUP). */
    tls?: { certFile: string; keyFile: string };
    /** Listen beyond loopback without TLS (a TLS-terminating proxy in front): said explicitly. */
    plaintextRemote?: boolean;
    /** Directory of the built portal served at `/`; false: no portal; absent: @ehr/web's build. */
    portal?: string | false;
    /** Signed-read nonces remembered against replay at most (~96 bytes each). */
    readNonces: number;
  };
  metrics: { host: string; port: number } | null;
  consensus: {
    tickMs: number;
    electionTicks: number;
    heartbeatTicks: number;
    maxBlockTxs: number;
    maxBlockBytes: number;
    maxInflightBlocks: number;
    /** As leader, send gossiped transactions and bodies in block entries by hash. */
    compactEntries: boolean;
    logTailEntries: number;
    logTailBytes: number;
    compactEveryEntries: number;
  };
  mempool: { maxTxs: number; maxBytes: number; maxPerAccount: number };
  /**
   * Catch-up sync: a node more than `threshold` log entries behind the members it can reach
   * fetches committed entries from several of them at once (`parallel` batches of `batchSize`),
   * at start (after waiting up to `startupWaitMs` for members to connect) and whenever a check
   * every `checkMs` finds it that far behind.
   */
  sync: {
    batchSize: number;
    parallel: number;
    threshold: number;
    checkMs: number;
    startupWaitMs: number;
  };
  /** Start-up check and background scrubber (scrubber.ts). */
  scrub: ScrubConfig;
  /** Byte bounds of the caches that grow with the chain or the load. */
  caches: { stateBytes: number; txStatusBytes: number };
  log: { level: (typeof LOG_LEVELS)[number] };
}

/** The defaults of the sections with defaults, as CONFIG_SCHEMA declares them. */
const defaultsOf = <T>(section: string): T =>
  Object.fromEntries(
    Object.entries(CONFIG_SCHEMA.properties![section]!.properties!).map(([k, v]) => [k, v.default]),
  ) as T;

export const CONFIG_DEFAULTS = {
  consensus: defaultsOf<NodeConfig['consensus']>('consensus'),
  mempool: defaultsOf<NodeConfig['mempool']>('mempool'),
  sync: defaultsOf<NodeConfig['sync']>('sync'),
  scrub: defaultsOf<NodeConfig['scrub']>('scrub'),
  caches: defaultsOf<NodeConfig['caches']>('caches'),
  log: defaultsOf<NodeConfig['log']>('log'),
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const ajv = new Ajv({
  strict: true,
  allowUnionTypes: true, // metrics: a mapping or null
  allErrors: false,
  verbose: true, // errors carry the failing subschema: the message says what it expects
  useDefaults: true, // absent keys take the schema's defaults (on a copy of the input)
});
const validate: ValidateFunction = ajv.compile(CONFIG_SCHEMA);

/** A short JSON preview of any value, bounded in length (and safe for deep input). */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  let t: string | undefined;
  try {
    t = JSON.stringify(v);
  } catch {
    return 'a value nested too deep to show';
  }
  if (t === undefined) return String(v);
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}

function invalid(file: string, key: string, expected: string, got: string): EhrError {
  return new EhrError('CONFIG_INVALID', `${file}: ${key}: expected ${expected}, got ${got}`, {
    file,
    key,
    expected,
  });
}

/** The first schema misfit as "file: key.path: expected ..., got ...". */
function misfit(file: string, e: ErrorObject): EhrError {
  const parent = e.instancePath
    .slice(1)
    .split('/')
    .filter((k) => k !== '')
    .map((k) => (/^\d+$/.test(k) ? `[${k}]` : `.${k.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
  const at = (k: string) => (parent ? `${parent}.${k}` : k);
  const sc = e.parentSchema as ConfigSchema;
  switch (e.keyword) {
    case 'required': {
      const k = (e.params as { missingProperty: string }).missingProperty;
      return invalid(file, at(k), expectedOf(sc.properties![k]!), 'nothing');
    }
    case 'additionalProperties': {
      const k = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys(sc.properties ?? {}).join(', ');
      return invalid(file, at(k), `one of the known keys (${known})`, shown(k));
    }
    case 'minItems':
      return invalid(file, parent, `at least one ${sc.items?.title ?? 'item'}`, shown(e.data));
    default:
      return invalid(file, parent || '(top level)', expectedOf(sc), shown(e.data));
  }
}

/**
 * Validates an already-parsed config object against CONFIG_SCHEMA (filling in defaults), then
 * the rules that tie keys together; `file` is used for messages and relative paths.
 */
export function parseConfig(raw: unknown, file: string): NodeConfig {
  const dir = dirname(resolve(file));
  // ajv fills defaults in: on a copy, never the caller's object.
  const top = raw !== null && typeof raw === 'object' ? structuredCloneOrSame(raw) : raw;
  // The last error is the one that decided (for one-of-several keys, the whole choice).
  if (!validate(top)) throw misfit(file, validate.errors!.at(-1)!);
  const c = top as Omit<NodeConfig, 'metrics' | 'gateway'> & {
    metrics?: { host: string; port: number } | null;
    gateway: Omit<NodeConfig['gateway'], 'portal'> & { portal?: string | false };
  };
  const fail = (key: string, expected: string, got: unknown): never => {
    throw invalid(file, key, expected, shown(got));
  };
  const gw = c.gateway;
  if (!gw.allowRemote && !LOOPBACK.has(gw.host))
    fail('gateway.host', 'a loopback address unless gateway.allowRemote is true', gw.host);
  if (!LOOPBACK.has(gw.host) && !gw.tls && !gw.plaintextRemote)
    fail(
      'gateway.tls',
      `certificate and key files (certFile, keyFile) to serve ${gw.host} beyond loopback, or gateway.plaintextRemote: true behind a TLS-terminating proxy`,
      gw.tls,
    );
  if (c.consensus.heartbeatTicks >= c.consensus.electionTicks)
    fail(
      'consensus.heartbeatTicks',
      'fewer ticks than consensus.electionTicks',
      c.consensus.heartbeatTicks,
    );
  const at = (p: string) => resolve(dir, p);
  const cfg: NodeConfig = {
    name: c.name,
    dataDir: at(c.dataDir),
    keyFile: at(c.keyFile),
    genesisFile: at(c.genesisFile),
    p2p: c.p2p,
    gateway: {
      host: gw.host,
      port: gw.port,
      allowRemote: gw.allowRemote,
      readNonces: gw.readNonces,
      ...(gw.tls ? { tls: { certFile: at(gw.tls.certFile), keyFile: at(gw.tls.keyFile) } } : {}),
      ...(gw.plaintextRemote ? { plaintextRemote: true } : {}),
      ...(gw.portal !== undefined ? { portal: gw.portal === false ? false : at(gw.portal) } : {}),
    },
    metrics: c.metrics ?? null,
    consensus: c.consensus,
    mempool: c.mempool,
    sync: c.sync,
    scrub: c.scrub,
    caches: c.caches,
    log: c.log,
  };
  if (c.keyPassphraseEnv !== undefined) cfg.keyPassphraseEnv = c.keyPassphraseEnv;
  return cfg;
}

/** A deep copy for ajv to fill defaults into; input too deep to copy is checked as it is. */
function structuredCloneOrSame(v: object): unknown {
  try {
    return structuredClone(v);
  } catch {
    return v;
  }
}

/** Reads and validates a config file (.yaml, .yml or .json). */
export function loadConfig(file: string): NodeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EhrError(
      'CONFIG_UNREADABLE',
      `cannot read config file ${file}: ${(err as Error).message}`,
      {
        file,
      },
    );
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new EhrError(
      'CONFIG_INVALID',
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
      {
        file,
      },
    );
  }
  return parseConfig(raw, file);
}
