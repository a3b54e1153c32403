/**
 * The node config file as one JSON Schema: every key's type, range, default and meaning. ajv
 * validates config files against it (config.ts) and the reference table in
 * packages/node/README.md is generated from it (scripts/config-doc.ts; a test keeps it current),
 * so the checks and the docs cannot drift. The few rules that tie two keys together (loopback
 * unless allowRemote, TLS beyond loopback, heartbeat below election) are in config.ts and listed
 * under the table.
 */

export interface ConfigSchema {
  type?: 'string' | 'integer' | 'boolean' | 'array' | 'object' | ('object' | 'null')[];
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  enum?: string[];
  const?: unknown;
  /** What one item of a list is called in messages ("at least one multiaddr"). */
  title?: string;
  items?: ConfigSchema;
  properties?: Record<string, ConfigSchema>;
  required?: string[];
  additionalProperties?: false;
  anyOf?: ConfigSchema[];
}

const text = (description: string, def?: string): ConfigSchema => ({
  type: 'string',
  minLength: 1,
  description,
  ...(def !== undefined ? { default: def } : {}),
});
const path = (description: string): ConfigSchema =>
  text(`${description} (relative paths resolve against the config file's directory)`);
const int = (description: string, def: number, minimum: number, maximum: number): ConfigSchema => ({
  type: 'integer',
  minimum,
  maximum,
  default: def,
  description,
});
const bool = (description: string, def?: boolean): ConfigSchema => ({
  type: 'boolean',
  description,
  ...(def !== undefined ? { default: def } : {}),
});
const list = (description: string, title: string, minItems?: number): ConfigSchema => ({
  type: 'array',
  items: { type: 'string', minLength: 1, title },
  description,
  ...(minItems ? { minItems } : { default: [] }),
});
/** A section: absent means all its defaults (ajv fills them in). */
const section = (
  description: string,
  properties: Record<string, ConfigSchema>,
  required: string[] = [],
  optional = true,
): ConfigSchema => ({
  type: 'object',
  description,
  properties,
  ...(required.length > 0 ? { required } : {}),
  additionalProperties: false,
  ...(optional ? { default: {} } : {}),
});

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;

export const CONFIG_SCHEMA: ConfigSchema = section(
  'a node config file (YAML or JSON)',
  {
    name: text('human name for logs and status (e.g. the hospital short name)'),
    dataDir: path('the store: LevelDB and RAFT-MARKER'),
    keyFile: path('node key file; its Ed25519 key is both libp2p identity and validator key'),
    keyPassphraseEnv: text('environment variable holding the passphrase of an encrypted key file'),
    genesisFile: path("the network's genesis file"),
    p2p: section(
      'peer-to-peer networking',
      {
        listen: list('multiaddrs to listen on', 'multiaddr', 1),
        announce: list('multiaddrs to announce instead of the listening ones', 'multiaddr'),
        bootstrap: list('multiaddrs to dial at start; each ends in `/p2p/<peer id>`', 'multiaddr'),
      },
      ['listen'],
      false,
    ),
    gateway: section('the JSON-RPC gateway (HTTP and WebSocket on one port)', {
      host: text('address to listen on; loopback unless gateway.allowRemote', '127.0.0.1'),
      port: int('port to listen on (0: any free port)', 0, 0, 65535),
      allowRemote: bool('listen beyond loopback (needs TLS or plaintextRemote)', false),
      tls: section(
        'serve HTTPS with these PEM files (re-read on SIGHUP)',
        {
          certFile: path('certificate chain, PEM'),
          keyFile: path('private key, PEM'),
        },
        ['certFile', 'keyFile'],
        false,
      ),
      plaintextRemote: bool(
        'listen beyond loopback without TLS, behind a TLS-terminating proxy (default false; logged as a warning)',
      ),
      portal: {
        description:
          "directory of the built portal served at / (relative to the config file); false: no portal; absent: @ehr/web's build",
        anyOf: [path('portal directory'), { const: false, description: 'no portal' }],
      },
      readNonces: int(
        'signed reads remembered against replay for twice the allowed clock skew (60 s), at most; about 96 bytes each (1,000,000: ~96 MB, shown as ehr_cache_bytes{cache="read_nonces"}); at the bound further signed reads are refused with RATE_LIMITED until older ones expire',
        1_000_000,
        1000,
        10_000_000,
      ),
    }),
    metrics: {
      type: ['object', 'null'],
      description: 'the Prometheus endpoint at GET /metrics; absent or null: off',
      properties: {
        host: text('address to listen on', '127.0.0.1'),
        port: int('port to listen on (0: any free port)', 0, 0, 65535),
      },
      additionalProperties: false,
    },
    consensus: section('consensus timing and block limits', {
      tickMs: int('length of one consensus tick, ms', 40, 1, 10_000),
      // 25 x 40 ms = 1 s (randomized to 1-2 s). At 400 ms a burst of ten 8 MiB documents on a
      // loaded two-core machine starved event loops past the timeout: the term rose from 7 to 30
      // while they committed; at 1 s all ten committed in term 1 (issue 12). A crashed leader
      // is still replaced fast: its closed connections start a pre-vote at once (leaderLost).
      electionTicks: int(
        'ticks without a leader before an election (randomized up to twice that)',
        25,
        2,
        1000,
      ),
      heartbeatTicks: int('ticks between leader heartbeats', 2, 1, 100),
      maxBlockTxs: int('transactions per block at most', 2000, 1, 100_000),
      maxBlockBytes: int('bytes per block at most', 4 * 1024 * 1024, 1024, 64 << 20),
      maxInflightBlocks: int('proposed blocks awaiting commit at once', 1, 1, 64),
      // Entries already committed go whole (a follower that far behind lacks them), and a
      // follower never holds heartbeats behind a fetch: see compact-entry.ts and
      // consensus-inbound.ts, and test/catch-up-quorum.test.ts.
      compactEntries: bool(
        'as leader, send block entries with the transactions and bodies that went out by gossip as their hashes; followers fill them from their mempool, fetching what they lack; entries already committed go whole (default false until a gain is measured: on sign-ups it cost 5% of CPU per transaction; every node reads compact entries whatever its own setting)',
        false,
      ),
      logTailEntries: int(
        'consensus log entries kept behind the applied index when the log is compacted (what a slow follower still gets by replication; one further behind catches up from blocks)',
        512,
        1,
        10_000_000,
      ),
      logTailBytes: int(
        'bytes of consensus log entries kept behind the applied index at most (a few large blocks are compacted sooner than the entry count says)',
        64 * 1024 * 1024,
        1024,
        2 ** 40,
      ),
      compactEveryEntries: int(
        'applied entries between compactions: each first makes the block store durable (one LevelDB memtable flush), then drops the log below it and the tail',
        256,
        1,
        10_000_000,
      ),
    }),
    mempool: section('bounds of the transaction pool', {
      maxTxs: int('transactions waiting at most', 50_000, 1, 10_000_000),
      maxBytes: int('bytes waiting at most', 256 * 1024 * 1024, 1024, 2 ** 40),
      maxPerAccount: int('transactions waiting per account at most', 256, 1, 1_000_000),
    }),
    sync: section(
      'catch-up sync: a node more than `threshold` entries behind the members it reaches fetches committed entries from several at once, at start and on every check',
      {
        batchSize: int('log entries per fetched batch', 128, 1, 512),
        parallel: int('batches fetched at once', 4, 1, 64),
        threshold: int('entries behind before a sync starts', 64, 0, 1_000_000),
        checkMs: int('how often to check whether to sync, ms', 5000, 100, 3_600_000),
        startupWaitMs: int(
          'at start, how long to wait for members to connect, ms',
          5000,
          0,
          600_000,
        ),
      },
    ),
    scrub: section(
      'start-up check and background scrubber: at start only the head, the last `startupBlocks` blocks and the consensus state are verified; the scrubber then re-verifies the whole store (blocks, signatures, receipts, state-hash chain, live state, payload bodies) in the background at this pace, and halts the node on a mismatch, naming the height and the store key or file',
      {
        enabled: bool('run the background scrubber', true),
        blocksPerSecond: int('blocks verified per second at most', 500, 1, 1_000_000),
        bytesPerSecond: int(
          'bytes read per second at most (blocks, write sets, state, bodies)',
          16 * 1024 * 1024,
          4096,
          2 ** 34,
        ),
        pauseMs: int('pause between two rounds, ms', 3_600_000, 0, 30 * 24 * 3_600_000),
        cpuPercent: int(
          'share of one core the scrubber may use, percent (it rests after each slice in proportion)',
          10,
          1,
          100,
        ),
        startupBlocks: int(
          'blocks verified at start, before serving (the last ones)',
          64,
          1,
          100_000,
        ),
        startupBytes: int(
          'block bytes verified at start at most (the head block whatever its size): a few large blocks cost as much as many small ones',
          8 * 1024 * 1024,
          1024,
          2 ** 40,
        ),
        verifyAllAtStart: bool(
          'verify the whole store before serving, as nodes did before the scrubber (start-up then grows with the chain; e.g. once after restoring a backup)',
          false,
        ),
        maxKeysPerPass: int(
          'state keys the state check holds in memory at once (more keys: more passes)',
          100_000,
          1000,
          10_000_000,
        ),
      },
    ),
    caches: section(
      'memory bounds of the caches that grow with the chain or the load, in bytes (estimated from what they hold; shown as ehr_cache_bytes{cache})',
      {
        stateBytes: int('ledger state read cache', 32 * 1024 * 1024, 0, 2 ** 34),
        txStatusBytes: int(
          'statuses of transactions this node saw (finished ones are forgotten first; pending ones are bounded by the mempool)',
          16 * 1024 * 1024,
          0,
          2 ** 34,
        ),
      },
    ),
    log: section('logging (JSON lines on stdout)', {
      level: {
        type: 'string',
        enum: [...LOG_LEVELS],
        default: 'info',
        description: 'lowest level written',
      },
    }),
  },
  ['name', 'dataDir', 'keyFile', 'genesisFile', 'p2p'],
  false,
);

/** What a value fitting `sc` looks like, in words (config error messages and the docs). */
export function expectedOf(sc: ConfigSchema): string {
  if (sc.anyOf) return sc.anyOf.map(expectedOf).join(' or ');
  if (sc.const !== undefined) return JSON.stringify(sc.const);
  if (Array.isArray(sc.type)) return 'a mapping or null';
  switch (sc.type) {
    case 'integer':
      return `an integer in ${sc.minimum}..${sc.maximum}`;
    case 'string':
      return sc.enum ? sc.enum.join('|') : 'a non-empty string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list of strings';
    default:
      return 'a mapping';
  }
}

const typeOf = (sc: ConfigSchema): string => {
  if (sc.anyOf) return sc.anyOf.map(typeOf).join(' \\| ');
  if (sc.const !== undefined) return JSON.stringify(sc.const);
  if (Array.isArray(sc.type)) return 'mapping \\| null';
  switch (sc.type) {
    case 'integer':
      return `integer ${sc.minimum!.toLocaleString('en-US')}..${sc.maximum!.toLocaleString('en-US')}`;
    case 'string':
      return sc.enum ? sc.enum.join(' \\| ') : 'string';
    case 'array':
      return `list of ${sc.items?.title ?? 'string'}s${sc.minItems ? ` (at least ${sc.minItems})` : ''}`;
    case 'object':
      return 'mapping';
    default:
      return sc.type ?? '';
  }
};

const defaultOf = (sc: ConfigSchema): string => {
  if (sc.default === undefined || (Array.isArray(sc.type) && sc.default === null)) return '';
  if (Array.isArray(sc.default)) return sc.default.length === 0 ? '[]' : JSON.stringify(sc.default);
  if (typeof sc.default === 'object') return '';
  return `\`${String(sc.default)}\``;
};

/** The reference table: one row per key, sections first then their keys. */
export function configMarkdown(): string {
  const rows: string[] = [];
  const walk = (sc: ConfigSchema, key: string, required: boolean) => {
    const mark = required ? ' (required)' : '';
    rows.push(
      `| \`${key}\` | ${typeOf(sc)} | ${defaultOf(sc)} | ${(sc.description ?? '').replace(/\|/g, '\\|')}${mark} |`,
    );
    for (const [k, v] of Object.entries(sc.properties ?? {}))
      walk(v, `${key}.${k}`, (sc.required ?? []).includes(k));
  };
  for (const [k, v] of Object.entries(CONFIG_SCHEMA.properties!))
    walk(v, k, (CONFIG_SCHEMA.required ?? []).includes(k));
  return ['| key | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
