/**
 * Local runner: the same five nodes as docker-compose.yml, as local processes.
 *
 *   node scripts/cluster.ts up [--nodes 5] [--fresh]   generate (if absent) and start, wait for a leader
 *   node scripts/cluster.ts status                     role, term, height, gateway of every node
 *   node scripts/cluster.ts logs [nodeN]               tail the logs
 *   node scripts/cluster.ts down                       SIGTERM (graceful), SIGKILL after 10 s
 *
 * State lives in .run/ (git-ignored): the network in .run/network, pids and logs beside it.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensurePortalBuilt } from './portal-build.ts';
import { generateNetwork, type NetworkPlan } from './network.ts';

const RUN = resolve('.run');
const NET = join(RUN, 'network');
const BIN = resolve('packages/cli/src/bin.ts');

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

export function startNodeProcess(configFile: string, log: string): number {
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [BIN, 'node', 'start', '--config', configFile], {
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  child.unref();
  return child.pid!;
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
    generateNetwork({ dir: NET, nodes, chainId: 'ehr-local', basePort: 27000 });
    console.log(`generated a ${nodes}-node development network in ${NET}`);
  }
  const plan = loadPlan();
  // Each gateway serves the portal at `/`: build it first when missing or stale.
  ensurePortalBuilt();
  for (const n of plan.nodes) {
    const pf = pidFile(n.name);
    if (existsSync(pf) && alive(Number(readFileSync(pf, 'utf8')))) continue;
    writeFileSync(pf, String(startNodeProcess(n.config, logFile(n.name))));
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
        `\nadmin key (development): ${plan.adminKey}\ntry: npx --yes pnpm@12.4.2 run demo`,
      );
      return;
    }
    for (const n of plan.nodes) {
      const pid = Number(readFileSync(pidFile(n.name), 'utf8'));
      if (!alive(pid))
        throw new Error(
          `${n.name} exited; see ${logFile(n.name)}:\n${readFileSync(logFile(n.name), 'utf8').split('\n').slice(-5).join('\n')}`,
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const [cmd, ...rest] = process.argv.slice(2);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      nodes: { type: 'string', default: '5' },
      fresh: { type: 'boolean', default: false },
    },
  });
  try {
    if (cmd === 'up') await up(Number(values.nodes), values.fresh!);
    else if (cmd === 'down') await down();
    else if (cmd === 'status') printTable(await statusRows(loadPlan()));
    else if (cmd === 'logs') {
      for (const n of loadPlan().nodes) {
        if (positionals[0] && n.name !== positionals[0]) continue;
        console.log(`==> ${logFile(n.name)}`);
        console.log(readFileSync(logFile(n.name), 'utf8').split('\n').slice(-20).join('\n'));
      }
    } else {
      console.error(
        'usage: node scripts/cluster.ts up [--nodes N] [--fresh] | status | logs [nodeN] | down',
      );
      process.exitCode = 2;
    }
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
