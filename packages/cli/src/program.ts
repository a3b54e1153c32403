/**
 * The `ehr` command. One factory builds the commander program so tests run the same thing the
 * binary does; this is the only package that reads argv or decides exit codes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { RpcClient, RpcError } from '@ehr/api';
import { generateKeyPair, isEhrError, loadKeyFile, saveKeyFile, toHex } from '@ehr/core';
import { startGateway } from '@ehr/gateway';
import { genesisToJson, validateGenesis } from '@ehr/ledger';
import { loadConfig, startNode } from '@ehr/node';
import { Command } from 'commander';
import { gatewayNode } from './service.ts';

export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, UNREACHABLE: 3 } as const;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

export function buildProgram(io: Io = defaultIo): Command {
  const program = new Command('ehr')
    .description('ehr-ledger: a permissioned ledger for electronic health records')
    .option('--json', 'machine-readable output')
    .option('--verbose', 'show stack traces on errors')
    .option('--rpc <url>', 'gateway URL of the node to talk to', 'http://127.0.0.1:8545/')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  const json = () => program.opts()['json'] === true;
  const print = (value: unknown, table: () => string) =>
    io.out(json() ? `${JSON.stringify(value, null, 2)}\n` : `${table()}\n`);

  const keys = program.command('keys').description('create and inspect key files');
  keys
    .command('new')
    .description('generate an Ed25519 key into a new file (mode 0600)')
    .argument('<file>', 'where to write the key')
    .option('--passphrase-env <var>', 'encrypt with the passphrase in this environment variable')
    .option('--dev', 'mark as a development key (unencrypted)')
    .addHelpText('after', '\nExample:\n  ehr keys new admin.key.json --passphrase-env EHR_PASS\n')
    .action((file: string, o: { passphraseEnv?: string; dev?: boolean }) => {
      const pair = generateKeyPair();
      const passphrase = o.passphraseEnv ? process.env[o.passphraseEnv] : undefined;
      if (o.passphraseEnv && !passphrase)
        throw new Error(`environment variable ${o.passphraseEnv} is empty`);
      saveKeyFile(file, pair, {
        ...(passphrase ? { passphrase } : {}),
        ...(o.dev ? { dev: true } : {}),
      });
      print(
        { file, publicKey: toHex(pair.publicKey) },
        () => `wrote ${file}\npublic key ${toHex(pair.publicKey)}`,
      );
    });
  keys
    .command('show')
    .description('print the public key of a key file')
    .argument('<file>')
    .option('--passphrase-env <var>', 'passphrase for an encrypted key')
    .action((file: string, o: { passphraseEnv?: string }) => {
      const k = loadKeyFile(file, o.passphraseEnv ? process.env[o.passphraseEnv] : undefined);
      print(
        { publicKey: toHex(k.publicKey), dev: k.dev },
        () => `public key ${toHex(k.publicKey)}${k.dev ? ' (development key)' : ''}`,
      );
    });

  program
    .command('genesis')
    .description('genesis documents')
    .command('new')
    .description('write a genesis document')
    .requiredOption('--chain-id <id>', 'network name, e.g. city-health')
    .requiredOption('--admin <hex...>', 'admin public keys')
    .requiredOption('--validator <hex...>', 'validator node public keys')
    .option('--observer <hex...>', 'observer node public keys', [])
    .option('--out <file>', 'output file', 'genesis.json')
    .action(
      (o: {
        chainId: string;
        admin: string[];
        validator: string[];
        observer: string[];
        out: string;
      }) => {
        const g = validateGenesis({
          chainId: o.chainId,
          genesisTime: new Date().toISOString(),
          admins: o.admin,
          validators: o.validator,
          observers: o.observer,
        });
        writeFileSync(o.out, genesisToJson(g));
        print({ file: o.out, chainId: g.chainId }, () => `wrote ${o.out} for chain ${g.chainId}`);
      },
    );

  const node = program.command('node').description('run and inspect a node');
  node
    .command('start')
    .description('start a node daemon and its local JSON-RPC gateway')
    .requiredOption('--config <file>', 'node config (YAML or JSON)')
    .addHelpText('after', '\nExample:\n  ehr node start --config configs/local/node1/node.yaml\n')
    .action(async (o: { config: string }) => {
      const config = loadConfig(o.config);
      const running = await startNode(config);
      const gw = await startGateway(gatewayNode(running), config.gateway);
      running.logger.info(
        { gateway: gw.url, ws: gw.wsUrl, metrics: running.metricsUrl },
        'gateway listening',
      );
      running.daemon.on('fatal', (err: Error) =>
        running.logger.fatal(
          { err: err.message },
          'node halted; stop it and inspect the store (ehr chain verify)',
        ),
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      running.logger.info('shutting down');
      await gw.close();
      await running.stop();
    });
  node
    .command('status')
    .description("show a node's role, term, leader, height and peers")
    .action(async () => {
      const s = await new RpcClient(program.opts()['rpc']).status();
      print(s, () =>
        [
          `node       ${s.name} (${s.nodeId.slice(0, 16)}…)`,
          `role       ${s.role}   term ${s.term}   leader ${s.leader ? `${s.leader.slice(0, 16)}…` : '(none)'}`,
          `height     ${s.height}${s.catchingUp ? ' (catching up)' : ''}`,
          `peers      ${s.peers}   validators ${s.validators.length}   observers ${s.observers.length}`,
          `mempool    ${s.mempool.txs} txs`,
        ].join('\n'),
      );
    });
  return program;
}

export async function runCli(argv: string[], io: Io = defaultIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version'
        ? EXIT.OK
        : EXIT.USAGE;
    }
    const verbose = program.opts()['verbose'] === true;
    if (err instanceof RpcError) {
      io.err(`error: ${err.message}${err.data ? ` ${JSON.stringify(err.data)}` : ''}\n`);
      return EXIT.FAILURE;
    }
    if ((err as Error).name === 'TypeError' && /fetch failed/.test((err as Error).message)) {
      io.err(
        `error: cannot reach the node at ${program.opts()['rpc']}: is it running? (--rpc <url>)\n`,
      );
      return EXIT.UNREACHABLE;
    }
    io.err(`error: ${(err as Error).message}${isEhrError(err) ? ` [${err.code}]` : ''}\n`);
    if (verbose) io.err(`${(err as Error).stack}\n`);
    return EXIT.FAILURE;
  }
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}
