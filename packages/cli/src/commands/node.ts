/** `ehr node`: set up a node directory, run the daemon, inspect a running node. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { generateKeyPair, type NodeStatus, saveKeyFile, toHex } from '@ehr/core';
import type { WalkProgress } from '@ehr/node';
import type { Command } from 'commander';
import { type Ctx, DEFAULT_PASSPHRASE_ENV, intArg } from '../context.ts';
import { usage } from '../errors.ts';
import { fields, short, table } from '../output.ts';
import { peerIdOfNode } from '../peer-id.ts';

const example = (lines: string) => `\nExample:\n${lines}\n`;

interface InitOptions {
  dir: string;
  name?: string;
  host: string;
  p2pPort: string;
  gatewayPort: string;
  metricsPort: string;
  metrics: boolean;
  bootstrap: string[];
  genesis: string;
  dev?: boolean;
}

/** The node config written by `node init` (YAML; paths relative to the config's directory). */
export function nodeConfigYaml(c: {
  name: string;
  host: string;
  p2pPort: number;
  gatewayPort: number;
  metricsPort: number | null;
  bootstrap: string[];
  genesis: string;
  passphraseEnv?: string;
}): string {
  return [
    `# Node config written by \`ehr node init\`. Start with: ehr node start --config node.yaml`,
    `name: ${JSON.stringify(c.name)}`,
    'dataDir: data',
    'keyFile: node.key.json',
    ...(c.passphraseEnv ? [`keyPassphraseEnv: ${c.passphraseEnv}`] : []),
    `genesisFile: ${JSON.stringify(c.genesis)}`,
    'p2p:',
    `  listen: [/ip4/${c.host}/tcp/${c.p2pPort}]`,
    ...(c.bootstrap.length > 0
      ? ['  bootstrap:', ...c.bootstrap.map((b) => `    - ${b}`)]
      : ['  bootstrap: []']),
    'gateway:',
    '  host: 127.0.0.1',
    `  port: ${c.gatewayPort}`,
    ...(c.metricsPort === null
      ? []
      : ['metrics:', '  host: 127.0.0.1', `  port: ${c.metricsPort}`]),
    'log:',
    '  level: info',
    '',
  ].join('\n');
}

export function registerNode(program: Command, ctx: Ctx): void {
  const node = program.command('node').description('set up, run and inspect a node');

  node
    .command('init')
    .description('create a node directory: a new node key, node.yaml and an empty data directory')
    .requiredOption('--dir <dir>', 'the node directory to create')
    .option('--name <name>', 'the node name in logs and status (default: the directory name)')
    .option('--host <ip>', 'IPv4 address to listen on for peers', '127.0.0.1')
    .option('--p2p-port <port>', 'peer-to-peer port', '7001')
    .option('--gateway-port <port>', 'JSON-RPC gateway port (loopback)', '8545')
    .option('--metrics-port <port>', 'Prometheus metrics port (loopback)', '9101')
    .option('--no-metrics', 'no metrics endpoint')
    .option(
      '--bootstrap <multiaddr...>',
      'peers to dial first (their `node init` prints theirs)',
      [],
    )
    .option('--genesis <file>', 'genesis file, relative to the node directory', 'genesis.json')
    .option('--dev', 'an unencrypted development key')
    .addHelpText(
      'after',
      example(
        '  EHR_NODE_PASS=... ehr node init --dir node1 --passphrase-env EHR_NODE_PASS\n  ehr genesis new --chain-id city-health --admin admin.key.json --validator node1/node.key.json --out node1/genesis.json\n  ehr node start --config node1/node.yaml',
      ),
    )
    .action((o: InitOptions) => {
      const dir = resolve(o.dir);
      const configFile = join(dir, 'node.yaml');
      if (existsSync(configFile)) throw usage(`${configFile} already exists; not touching it`);
      const p2pPort = intArg(o.p2pPort, '--p2p-port', 1, 65535);
      const gatewayPort = intArg(o.gatewayPort, '--gateway-port', 1, 65535);
      const metricsPort = o.metrics ? intArg(o.metricsPort, '--metrics-port', 1, 65535) : null;
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(o.host))
        throw usage(`--host: expected an IPv4 address, got "${o.host}"`);
      const protection = ctx.newKeyProtection(o.dev);
      // The daemon unlocks its key from the same variable the key was encrypted with.
      const passphraseEnv =
        'passphrase' in protection ? (ctx.opts.passphraseEnv ?? DEFAULT_PASSPHRASE_ENV) : undefined;
      mkdirSync(join(dir, 'data'), { recursive: true });
      const pair = generateKeyPair();
      const name = o.name ?? basename(dir);
      saveKeyFile(join(dir, 'node.key.json'), pair, { ...protection, label: `${name} node key` });
      writeFileSync(
        configFile,
        nodeConfigYaml({
          name,
          host: o.host,
          p2pPort,
          gatewayPort,
          metricsPort,
          bootstrap: o.bootstrap,
          genesis: o.genesis,
          ...(passphraseEnv ? { passphraseEnv } : {}),
        }),
      );
      const nodeId = toHex(pair.publicKey);
      const peerId = peerIdOfNode(nodeId);
      const address = `/ip4/${o.host}/tcp/${p2pPort}/p2p/${peerId}`;
      ctx.print(
        { dir, config: configFile, keyFile: join(dir, 'node.key.json'), nodeId, peerId, address },
        () =>
          [
            fields([
              ['config', configFile],
              ['node id', nodeId],
              ['peer address', address],
            ]),
            '',
            'Next: put the node id in the genesis (ehr genesis new --validator …) or have the',
            'admins add it (ehr admin validator propose), then: ehr node start --config ' +
              configFile,
          ].join('\n'),
      );
    });

  node
    .command('start')
    .description('start a node daemon and its local JSON-RPC gateway (runs until SIGTERM/SIGINT)')
    .requiredOption('--config <file>', 'node config (YAML or JSON)')
    .addHelpText('after', example('  ehr node start --config configs/local/node1/node.yaml'))
    .action(async (o: { config: string }) => {
      // Loaded here, not at the top: every other command starts without the daemon's stack.
      const [
        { createSyncLogger, loadConfig, startNode },
        { startGateway },
        { gatewayNode },
        { PORTAL_DIST },
      ] = await Promise.all([
        import('@ehr/node'),
        import('@ehr/gateway'),
        import('../service.ts'),
        import('@ehr/web'),
      ]);
      const { watchDaemonExit } = await import('../daemon-exit.ts');
      const config = loadConfig(o.config);
      const exit = watchDaemonExit(createSyncLogger(config.name, 'info'));
      let running: Awaited<ReturnType<typeof startNode>>;
      let gw: Awaited<ReturnType<typeof startGateway>>;
      const { portal, ...gwOpts } = config.gateway;
      const portalDir = portal === false ? undefined : (portal ?? PORTAL_DIST);
      try {
        running = await startNode(config);
        gw = await startGateway(gatewayNode(running), {
          ...gwOpts,
          // One transaction with its largest bodies, hex encoded (see wireLimits).
          maxBodyBytes: running.wire.requestBytes,
          ...(portalDir ? { portalDir } : {}),
        });
      } catch (err) {
        // runCli prints the refusal; the log says it too, with the exit code.
        exit.because(`start refused: ${(err as Error).message}`);
        throw err;
      }
      running.logger.info(
        {
          gateway: gw.url,
          ws: gw.wsUrl,
          portal: portalDir ? gw.url : null,
          metrics: running.metricsUrl,
        },
        'gateway listening',
      );
      if (gwOpts.plaintextRemote && !gwOpts.tls) {
        running.logger.warn(
          { host: gwOpts.host },
          'the gateway listens beyond loopback without TLS (gateway.plaintextRemote): keys stay in clients, but put a TLS-terminating proxy in front before patients use it',
        );
      }
      const reloadTls = () => {
        try {
          gw.reloadTls();
          running.logger.info({ tls: gwOpts.tls }, 'gateway TLS certificate reloaded');
        } catch (err) {
          running.logger.error(
            { err: (err as Error).message },
            'TLS reload failed; keeping the old certificate',
          );
        }
      };
      if (gwOpts.tls) exit.onHangup(reloadTls);
      running.daemon.on('fatal', (err: Error) =>
        running.logger.fatal(
          { err: err.message },
          'node halted; stop it and inspect the store (ehr chain verify)',
        ),
      );
      await exit.stopRequested;
      running.logger.info('shutting down');
      await gw.close();
      await running.stop();
    });

  node
    .command('verify')
    .description(
      "fully verify a stopped node's data directory offline: every block, signature, receipt, the state-hash chain, the live state and every payload body",
    )
    .requiredOption('--dir <dir>', "the node's data directory (dataDir in its config)")
    .addHelpText(
      'after',
      example('  ehr node verify --dir nodes/node1/data') +
        '\nExits 7 naming the height and the damaged key or file when the store is damaged.\n',
    )
    .action(async (o: { dir: string }) => {
      const { verifyDataDir } = await import('@ehr/node');
      const dir = resolve(o.dir);
      const show = verifyProgress(ctx);
      const started = Date.now();
      try {
        const r = await verifyDataDir(dir, show.step);
        show.end();
        const seconds = (Date.now() - started) / 1000;
        ctx.print({ ok: true, dir, ...r, seconds }, () =>
          [
            `ok: ${dir} verifies (chain ${r.chainId})`,
            `height ${r.height}: ${r.blocks} blocks, ${r.txs} transactions, ${r.stateKeys} state entries, ${r.payloads} payload bodies`,
            `${(r.bytes / 1048576).toFixed(1)} MiB read in ${seconds.toFixed(1)} s`,
          ].join('\n'),
        );
      } catch (err) {
        show.end();
        throw err;
      }
    });

  node
    .command('status')
    .description("show a node's role, term, leader, height and peers")
    .addHelpText('after', example('  ehr node status --rpc http://127.0.0.1:8545/ --json'))
    .action(async () => {
      const s = await ctx.rpc().status();
      ctx.print(s, () =>
        fields([
          ['node', `${s.name} (${short(s.nodeId, 16)})`],
          ['chain', s.chainId],
          [
            'role',
            `${s.role}   term ${s.term}   leader ${s.leader ? short(s.leader, 16) : '(none)'}`,
          ],
          ['height', `${s.height}${s.catchingUp ? ' (catching up)' : ''}`],
          [
            'peers',
            `${s.peers}   validators ${s.validators.length}   observers ${s.observers.length}`,
          ],
          ['mempool', `${s.mempool.txs} txs`],
          [
            'log',
            `compacted to ${s.log.compactedIndex}   holds ${s.log.firstIndex}..${s.log.lastIndex}   durable height ${s.log.durableHeight}`,
          ],
          ...(s.scrub ? ([['scrub', scrubLine(s.scrub)]] as [string, string][]) : []),
          ...(s.halted ? ([['HALTED', s.halted]] as [string, string][]) : []),
        ]),
      );
    });

  node
    .command('peers')
    .description('list the peers a node is connected to')
    .addHelpText('after', example('  ehr node peers --json'))
    .action(async () => {
      const peers = await ctx.rpc().call<{ nodeId: string; addresses: string[] }[]>('node_peers');
      ctx.print(peers, () =>
        table(
          ['node id', 'addresses'],
          peers.map((p) => [p.nodeId, p.addresses.join(' ')]),
          '(no peers connected)',
        ),
      );
    });
}

/** The scrubber in one line of `node status`. */
function scrubLine(s: NonNullable<NodeStatus['scrub']>): string {
  if (!s.enabled) return 'off';
  if (s.failed) return `FAILED: ${s.failed}`;
  const last =
    s.lastCompletedAt === null
      ? 'no round completed yet'
      : `last round ${new Date(s.lastCompletedAt).toISOString()} (${((s.lastRoundMs ?? 0) / 1000).toFixed(1)} s)`;
  if (s.phase === 'idle') return `idle; ${last}`;
  return `round ${s.round}: ${s.phase}, block ${s.height}/${s.target} (${Math.floor(s.progress * 100)}%); ${last}`;
}

/**
 * Progress of `node verify` on stderr: a bar redrawn in place on a terminal, a plain line every
 * few seconds otherwise (logs, CI).
 */
function verifyProgress(ctx: Ctx) {
  const tty = ctx.io.errIsTty === true;
  let last = 0;
  let drawn = false;
  const width = 30;
  return {
    step(p: WalkProgress) {
      const now = Date.now();
      if (now - last < (tty ? 100 : 2000)) return;
      last = now;
      const share =
        p.phase === 'blocks'
          ? (p.target > 0 ? p.height / p.target : 1) / 2
          : p.phase === 'state'
            ? 0.5 + (0.4 * (p.pass - 1)) / Math.max(1, p.passes)
            : 0.9;
      const what =
        p.phase === 'blocks'
          ? `blocks ${p.height}/${p.target}`
          : p.phase === 'state'
            ? `state pass ${p.pass}/${p.passes} (${p.stateKeys} entries)`
            : `payload bodies ${p.payloads}`;
      const mib = `${(p.bytes / 1048576).toFixed(1)} MiB`;
      if (tty) {
        const fill = Math.round(share * width);
        ctx.io.err(
          `\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(Math.floor(share * 100)).padStart(3)}% ${what}, ${mib}\x1b[K`,
        );
        drawn = true;
      } else {
        ctx.io.err(`verify: ${Math.floor(share * 100)}% ${what}, ${mib}\n`);
      }
    },
    end() {
      if (drawn) ctx.io.err('\n');
      drawn = false;
    },
  };
}
