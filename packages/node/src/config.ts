/**
 * Node configuration: a YAML or JSON file, validated with errors that name the file, the key and
 * what is expected. Relative paths resolve against the config file's directory, so a config
 * directory can be moved (or mounted into a container) as a whole.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { EhrError } from '@ehr/core';
import { parse as parseYaml } from 'yaml';

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
  };
  metrics: { host: string; port: number } | null;
  consensus: {
    tickMs: number;
    electionTicks: number;
    heartbeatTicks: number;
    maxBlockTxs: number;
    maxBlockBytes: number;
    maxInflightBlocks: number;
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
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent' };
}

export const CONFIG_DEFAULTS = {
  consensus: {
    tickMs: 40,
    // 1 s (randomized to 1-2 s). At 400 ms a burst of ten 8 MiB documents on a loaded two-core
    // machine starved event loops past the timeout: the term rose from 7 to 30 while the
    // documents committed; at 1 s all ten committed in term 1 (measured, issue 12 item 1).
    electionTicks: 25,
    heartbeatTicks: 2,
    maxBlockTxs: 2000,
    maxBlockBytes: 4 * 1024 * 1024,
    maxInflightBlocks: 1,
  },
  mempool: { maxTxs: 50_000, maxBytes: 256 * 1024 * 1024, maxPerAccount: 256 },
  sync: { batchSize: 128, parallel: 4, threshold: 64, checkMs: 5000, startupWaitMs: 5000 },
  log: { level: 'info' },
} as const;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

class ConfigReader {
  readonly file: string;
  readonly dir: string;
  constructor(file: string) {
    this.file = file;
    this.dir = dirname(resolve(file));
  }

  fail(key: string, expected: string, got: unknown): never {
    const shown = got === undefined ? 'nothing' : JSON.stringify(got);
    throw new EhrError(
      'CONFIG_INVALID',
      `${this.file}: ${key}: expected ${expected}, got ${shown}`,
      {
        file: this.file,
        key,
        expected,
      },
    );
  }

  obj(v: unknown, key: string, optional = false): Record<string, unknown> {
    if (v === undefined && optional) return {};
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(key, 'a mapping', v);
    return v as Record<string, unknown>;
  }

  known(o: Record<string, unknown>, key: string, allowed: string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        this.fail(key ? `${key}.${k}` : k, `one of the known keys (${allowed.join(', ')})`, k);
      }
    }
  }

  str(v: unknown, key: string, def?: string): string {
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'string' || v.length === 0) this.fail(key, 'a non-empty string', v);
    return v;
  }

  path(v: unknown, key: string, def?: string): string {
    return resolve(this.dir, this.str(v, key, def));
  }

  int(v: unknown, key: string, def: number, min: number, max: number): number {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `an integer in ${min}..${max}`, v);
    }
    return v;
  }

  bool(v: unknown, key: string, def: boolean): boolean {
    if (v === undefined) return def;
    if (typeof v !== 'boolean') this.fail(key, 'true or false', v);
    return v;
  }

  strs(v: unknown, key: string): string[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(key, 'a list of strings', v);
    return v.map((s, i) => this.str(s, `${key}[${i}]`));
  }
}

/** Validates an already-parsed config object; `file` is used for messages and relative paths. */
export function parseConfig(raw: unknown, file: string): NodeConfig {
  const r = new ConfigReader(file);
  const top = r.obj(raw, '(top level)');
  r.known(top, '', [
    'name',
    'dataDir',
    'keyFile',
    'keyPassphraseEnv',
    'genesisFile',
    'p2p',
    'gateway',
    'metrics',
    'consensus',
    'mempool',
    'sync',
    'log',
  ]);
  const p2p = r.obj(top['p2p'], 'p2p');
  r.known(p2p, 'p2p', ['listen', 'announce', 'bootstrap']);
  const listen = r.strs(p2p['listen'], 'p2p.listen');
  if (listen.length === 0) r.fail('p2p.listen', 'at least one multiaddr', p2p['listen']);
  const gw = r.obj(top['gateway'], 'gateway', true);
  r.known(gw, 'gateway', ['host', 'port', 'allowRemote', 'tls', 'plaintextRemote', 'portal']);
  const allowRemote = r.bool(gw['allowRemote'], 'gateway.allowRemote', false);
  const gwHost = r.str(gw['host'], 'gateway.host', '127.0.0.1');
  if (!allowRemote && !LOOPBACK.has(gwHost)) {
    r.fail('gateway.host', 'a loopback address unless gateway.allowRemote is true', gwHost);
  }
  let tls: { certFile: string; keyFile: string } | undefined;
  if (gw['tls'] !== undefined) {
    const t = r.obj(gw['tls'], 'gateway.tls');
    r.known(t, 'gateway.tls', ['certFile', 'keyFile']);
    tls = {
      certFile: r.path(t['certFile'], 'gateway.tls.certFile'),
      keyFile: r.path(t['keyFile'], 'gateway.tls.keyFile'),
    };
  }
  const plaintextRemote = r.bool(gw['plaintextRemote'], 'gateway.plaintextRemote', false);
  if (!LOOPBACK.has(gwHost) && !tls && !plaintextRemote) {
    r.fail(
      'gateway.tls',
      `certificate and key files (certFile, keyFile) to serve ${gwHost} beyond loopback, or gateway.plaintextRemote: true behind a TLS-terminating proxy`,
      gw['tls'],
    );
  }
  let portal: string | false | undefined;
  if (gw['portal'] === false) portal = false;
  else if (gw['portal'] !== undefined) portal = r.path(gw['portal'], 'gateway.portal');
  let metrics: NodeConfig['metrics'] = null;
  if (top['metrics'] !== undefined && top['metrics'] !== null) {
    const m = r.obj(top['metrics'], 'metrics');
    r.known(m, 'metrics', ['host', 'port']);
    metrics = {
      host: r.str(m['host'], 'metrics.host', '127.0.0.1'),
      port: r.int(m['port'], 'metrics.port', 0, 0, 65535),
    };
  }
  const c = r.obj(top['consensus'], 'consensus', true);
  const cd = CONFIG_DEFAULTS.consensus;
  r.known(c, 'consensus', Object.keys(cd));
  const consensus = {
    tickMs: r.int(c['tickMs'], 'consensus.tickMs', cd.tickMs, 1, 10_000),
    electionTicks: r.int(c['electionTicks'], 'consensus.electionTicks', cd.electionTicks, 2, 1000),
    heartbeatTicks: r.int(
      c['heartbeatTicks'],
      'consensus.heartbeatTicks',
      cd.heartbeatTicks,
      1,
      100,
    ),
    maxBlockTxs: r.int(c['maxBlockTxs'], 'consensus.maxBlockTxs', cd.maxBlockTxs, 1, 100_000),
    maxBlockBytes: r.int(
      c['maxBlockBytes'],
      'consensus.maxBlockBytes',
      cd.maxBlockBytes,
      1024,
      64 << 20,
    ),
    maxInflightBlocks: r.int(
      c['maxInflightBlocks'],
      'consensus.maxInflightBlocks',
      cd.maxInflightBlocks,
      1,
      64,
    ),
  };
  if (consensus.heartbeatTicks >= consensus.electionTicks) {
    r.fail(
      'consensus.heartbeatTicks',
      'fewer ticks than consensus.electionTicks',
      consensus.heartbeatTicks,
    );
  }
  const mp = r.obj(top['mempool'], 'mempool', true);
  const md = CONFIG_DEFAULTS.mempool;
  r.known(mp, 'mempool', Object.keys(md));
  const sy = r.obj(top['sync'], 'sync', true);
  const sd = CONFIG_DEFAULTS.sync;
  r.known(sy, 'sync', Object.keys(sd));
  const lg = r.obj(top['log'], 'log', true);
  r.known(lg, 'log', ['level']);
  const level = r.str(lg['level'], 'log.level', CONFIG_DEFAULTS.log.level);
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
  if (!(levels as readonly string[]).includes(level)) r.fail('log.level', levels.join('|'), level);
  const cfg: NodeConfig = {
    name: r.str(top['name'], 'name'),
    dataDir: r.path(top['dataDir'], 'dataDir'),
    keyFile: r.path(top['keyFile'], 'keyFile'),
    genesisFile: r.path(top['genesisFile'], 'genesisFile'),
    p2p: {
      listen,
      announce: r.strs(p2p['announce'], 'p2p.announce'),
      bootstrap: r.strs(p2p['bootstrap'], 'p2p.bootstrap'),
    },
    gateway: {
      host: gwHost,
      port: r.int(gw['port'], 'gateway.port', 0, 0, 65535),
      allowRemote,
      ...(tls ? { tls } : {}),
      ...(plaintextRemote ? { plaintextRemote } : {}),
      ...(portal !== undefined ? { portal } : {}),
    },
    metrics,
    consensus,
    mempool: {
      maxTxs: r.int(mp['maxTxs'], 'mempool.maxTxs', md.maxTxs, 1, 10_000_000),
      maxBytes: r.int(mp['maxBytes'], 'mempool.maxBytes', md.maxBytes, 1024, 2 ** 40),
      maxPerAccount: r.int(mp['maxPerAccount'], 'mempool.maxPerAccount', md.maxPerAccount, 1, 1e6),
    },
    sync: {
      batchSize: r.int(sy['batchSize'], 'sync.batchSize', sd.batchSize, 1, 512),
      parallel: r.int(sy['parallel'], 'sync.parallel', sd.parallel, 1, 64),
      threshold: r.int(sy['threshold'], 'sync.threshold', sd.threshold, 0, 1_000_000),
      checkMs: r.int(sy['checkMs'], 'sync.checkMs', sd.checkMs, 100, 3_600_000),
      startupWaitMs: r.int(sy['startupWaitMs'], 'sync.startupWaitMs', sd.startupWaitMs, 0, 600_000),
    },
    log: { level: level as NodeConfig['log']['level'] },
  };
  if (top['keyPassphraseEnv'] !== undefined) {
    cfg.keyPassphraseEnv = r.str(top['keyPassphraseEnv'], 'keyPassphraseEnv');
  }
  return cfg;
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
