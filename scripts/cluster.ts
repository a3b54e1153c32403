/**
 * Local runner: the same five nodes as docker-compose.yml, as local processes.
 *
 *   node scripts/cluster.ts up [--nodes 5] [--fresh]   generate (if absent) and start, wait for a leader
 *   node scripts/cluster.ts status                     role, term, height, gateway of every node
 *   node scripts/cluster.ts logs [nodeN]               tail the logs
 *   node scripts/cluster.ts down                       SIGTERM (graceful), SIGKILL after 10 s
 *
 * State lives in .run/ (git-ignored): the network in .run/network, pids and logs beside it;
 * --run-dir (or EHR_RUN_DIR) puts it elsewhere and --base-port (or EHR_RUN_BASE_PORT) moves the
 * ports (27000+: p2p, 28000+: gateways, 29000+: metrics), so a test can run its own network
 * beside the default one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseScriptArgs, UsageError, usageError } from './args.ts';
import { generateNetwork, type NetworkPlan } from './network.ts';
import { ensurePortalBuilt } from './portal-build.ts';

// Set once by the command line (--run-dir, --base-port; defaults from EHR_RUN_DIR and
// EHR_RUN_BASE_PORT) before anything runs.
let RUN = resolve(process.env['EHR_RUN_DIR'] ?? '.run');
let NET = join(RUN, 'network');
let BASE_PORT = Number(process.env['EHR_RUN_BASE_PORT'] ?? 27000);
const BIN = resolve(import.meta.dirname, '../packages/cli/src/bin.ts');

export async function rpc(
  url: string,
  method: string,
  params?: unknown,
  timeoutMs = 2000,
): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params ? { params } : {}) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(body.error.message);
  return body.result;
}

const pidFile = (name: string) => join(RUN, `${name}.pid`);
const logFile = (name: string) => join(RUN, `${name}.log`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function loadPlan(): NetworkPlan {
  return JSON.parse(readFileSync(join(NET, 'network.json'), 'utf8')) as NetworkPlan;
}

/** How each node this runner started has exited so far (while the runner still runs). */
const exits = new Map<string, string>();

export function startNodeProcess(configFile: string, log: string, name = log): ChildProcess {
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [BIN, 'node', 'start', '--config', configFile], {
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  child.once('exit', (code, signal) =>
    exits.set(name, signal ? `killed by ${signal}` : `exit code ${code}`),
  );
  child.unref();
  return child;
}

interface Row {
  node: string;
  role: string;
  term: number | string;
  height: number | string;
  gateway: string;
  log: string;
}

async function statusRows(plan: NetworkPlan): Promise<Row[]> {
  return Promise.all(
    plan.nodes.map(async (n) => {
      try {
        const s = (await rpc(n.gatewayUrl, 'status')) as {
          role: string;
          term: number;
          height: number;
          catchingUp: boolean;
        };
        return {
          node: n.name,
          role: s.role + (s.catchingUp ? ' (catching up)' : ''),
          term: s.term,
          height: s.height,
          gateway: n.gatewayUrl,
          log: logFile(n.name),
        };
      } catch {
        return {
          node: n.name,
          role: 'down',
          term: '-',
          height: '-',
          gateway: n.gatewayUrl,
          log: logFile(n.name),
        };
      }
    }),
  );
}

function printTable(rows: Row[]): void {
  console.log(
    `${'node'.padEnd(7)} ${'role'.padEnd(22)} ${'term'.padStart(5)} ${'height'.padStart(7)}  gateway                    log`,
  );
  for (const r of rows) {
    console.log(
      `${r.node.padEnd(7)} ${r.role.padEnd(22)} ${String(r.term).padStart(5)} ${String(r.height).padStart(7)}  ${r.gateway.padEnd(26)} ${r.log}`,
    );
  }
}

async function up(nodes: number, fresh: boolean): Promise<void> {
  if (fresh || !existsSync(join(NET, 'network.json'))) {
    await down(true);
    rmSync(NET, { recursive: true, force: true });
    // Ports below Linux's ephemeral range (32768+), so a restarted node can always listen again.
    generateNetwork({ dir: NET, nodes, chainId: 'ehr-local', basePort: BASE_PORT });
    console.log(`generated a ${nodes}-node development network in ${NET}`);
  }
  const plan = loadPlan();
  // Each gateway serves the portal at `/`: build it first when missing or stale.
  ensurePortalBuilt();
  for (const n of plan.nodes) {
    const pf = pidFile(n.name);
    if (existsSync(pf) && alive(Number(readFileSync(pf, 'utf8')))) continue;
    writeFileSync(pf, String(startNodeProcess(n.config, logFile(n.name), n.name).pid));
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const rows = await statusRows(plan);
    const leaders = rows.filter((r) => r.role === 'leader').length;
    if (leaders === 1 && rows.every((r) => r.role !== 'down')) {
      printTable(rows);
      console.log('\nportal (open in a browser; Admin, Patient or Doctor on its home page):');
      for (const n of plan.nodes) console.log(`  ${n.name.padEnd(7)} ${n.gatewayUrl}`);
      console.log(
        `\nadmin key (development): ${plan.adminKey}\ntry: npx --yes pnpm@12.4.2 run demo${NET === resolve('.run/network') ? '' : ` -- --network ${NET}`}`,
      );
      return;
    }
    for (const n of plan.nodes) {
      const pid = Number(readFileSync(pidFile(n.name), 'utf8'));
      if (!alive(pid))
        throw new Error(
          `${n.name} exited${exits.has(n.name) ? ` (${exits.get(n.name)})` : ''}; see ${logFile(n.name)}:\n${readFileSync(logFile(n.name), 'utf8').split('\n').slice(-5).join('\n')}`,
        );
    }
    if (Date.now() > deadline) {
      printTable(rows);
      throw new Error('no leader within 30 s; see the logs above');
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function down(quiet = false): Promise<void> {
  if (!existsSync(join(NET, 'network.json'))) return;
  const plan = loadPlan();
  const pids = plan.nodes
    .map((n) => (existsSync(pidFile(n.name)) ? Number(readFileSync(pidFile(n.name), 'utf8')) : 0))
    .filter((p) => p > 0 && alive(p));
  for (const p of pids) process.kill(p, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const p of pids.filter(alive)) process.kill(p, 'SIGKILL');
  for (const n of plan.nodes) rmSync(pidFile(n.name), { force: true });
  if (!quiet) console.log(`stopped ${pids.length} node(s)`);
}

const USAGE = `
usage: node scripts/cluster.ts <command> [flags]   (or: pnpm run up|down|cluster -- ...)
  up [--nodes 5] [--fresh] [--base-port 27000]   generate the network if absent (or with --fresh),
                                                  start its nodes and wait for a leader
  status                                         role, term, height and gateway of every node
  logs [nodeN]                                   the last lines of each log (or one)
  down                                           stop the nodes (SIGTERM, SIGKILL after 10 s)
flags for every command:
  --run-dir <dir>   where the network, pids and logs live (default .run)
  --help            this text`;

if (import.meta.url === `file://${process.argv[1]}`) {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    usageError(USAGE, err.message);
  }
  if (parsed.help) {
    console.log(USAGE.trim());
    process.exit(0);
  }
  const { cmd, values, positionals } = parsed;
  try {
    if (cmd === 'up') {
      const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
      if (existsSync(join(NET, 'network.json')) && !values.fresh) {
        // An existing network is started as it is: say so rather than ignore what was asked.
        const plan = loadPlan();
        const have = plan.nodes.length;
        const port = Number(new URL(plan.nodes[0]!.gatewayUrl).port) - 1001;
        if ((nodes !== undefined && nodes !== have) || (values['base-port'] && port !== BASE_PORT))
          throw new Error(
            `${NET} holds a ${have}-node network on base port ${port}; add --fresh to replace it`,
          );
      }
      await up(nodes ?? 5, values.fresh === true);
    } else if (cmd === 'down') await down();
    else if (cmd === 'status') printTable(await statusRows(loadPlan()));
    else if (cmd === 'logs') {
      for (const n of loadPlan().nodes) {
        if (positionals[1] && n.name !== positionals[1]) continue;
        console.log(`==> ${logFile(n.name)}`);
        console.log(readFileSync(logFile(n.name), 'utf8').split('\n').slice(-20).join('\n'));
      }
    }
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}

/** The command and its flags; also sets where state lives and the base port. */
function parseCommandLine(args: string[]) {
  const { values, positionals, help } = parseScriptArgs(
    {
      nodes: { type: 'string' },
      fresh: { type: 'boolean' },
      'base-port': { type: 'string' },
      'run-dir': { type: 'string' },
    },
    { args, positionals: 2 },
  );
  const cmd = positionals[0];
  if (help) return { cmd, values, positionals, help };
  if (!cmd || !['up', 'down', 'status', 'logs'].includes(cmd))
    throw new UsageError(cmd ? `unknown command '${cmd}'` : 'a command is needed');
  if (positionals.length > (cmd === 'logs' ? 2 : 1))
    throw new UsageError(`unexpected argument '${positionals.at(-1)}'`);
  if (cmd !== 'up') {
    for (const f of ['nodes', 'fresh', 'base-port'] as const)
      if (values[f] !== undefined) throw new UsageError(`--${f} is a flag of up, not of ${cmd}`);
  }
  const int = (flag: string, v: string | undefined, min: number, max: number) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max)
      throw new UsageError(`--${flag}: expected an integer from ${min} to ${max}, got "${v}"`);
    return n;
  };
  int('nodes', values.nodes, 1, 99);
  BASE_PORT = int('base-port', values['base-port'], 1024, 62_000) ?? BASE_PORT;
  if (values['run-dir']) {
    RUN = resolve(values['run-dir']);
    NET = join(RUN, 'network');
  }
  return { cmd, values, positionals, help };
}
