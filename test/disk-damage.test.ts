/**
 * Damaged write-ahead logs under real daemons (issue 12, item 5). A validator is stopped, its
 * LevelDB `.log` (the writes since LevelDB's last table flush: the blocks and consensus entries
 * it acknowledged) is damaged, and it is started again: it must refuse, naming its data directory
 * and the file, instead of silently starting without those entries; following the message (move
 * the directory aside, start empty with the same key and genesis) rejoins it safely. The other
 * validators keep committing meanwhile, and the chain ends the same everywhere with nothing
 * acknowledged lost.
 */
import {
  readdirSync,
  readFileSync,
  renameSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';
import { chainTxs, runLoad } from './harness/load.ts';

const NODES = ['node1', 'node2', 'node3'];
let cluster: TestCluster;
const acknowledged = new Set<string>();

const dataDir = (name: string) => join(cluster.node(name).dir, 'data');
const logs = (name: string) =>
  readdirSync(dataDir(name))
    .filter((n) => /^\d+\.log$/.test(n))
    .map((n) => join(dataDir(name), n));

/** Commits `count` more acknowledged transactions through the nodes that are up. */
async function load(count: number, nodes: string[]) {
  const before = acknowledged.size;
  await runLoad(cluster, {
    clients: 4,
    until: () => acknowledged.size >= before + count,
    nodes: () => nodes,
    onAck: (h) => acknowledged.add(h),
  });
}

async function converged() {
  const st = await Promise.all(NODES.map((n) => cluster.status(n)));
  if (st.some((s) => !s || s.catchingUp)) return false;
  return st.every((s) => s!.height === st[0]!.height && s!.stateHash === st[0]!.stateHash)
    ? st[0]
    : false;
}

/** Stops `name` gracefully with fresh writes in its .log, then lets `damage` at it. */
async function stopWithFreshLog(name: string) {
  await load(
    30,
    NODES.filter((n) => n !== name),
  );
  await until(`${name} to apply the load`, async () => {
    const [a, b] = await Promise.all([cluster.status(name), cluster.status('node1')]);
    return a && b && a.height === b.height && a.height > 0;
  });
  await cluster.kill(name, 'SIGTERM');
  const files = logs(name);
  expect(files.length).toBeGreaterThan(0);
  expect(files.reduce((n, f) => n + readFileSync(f).length, 0)).toBeGreaterThan(4096);
  return files;
}

async function refuses(name: string, code: string, mentions: string[]) {
  const before = cluster.log(name).length;
  cluster.start(name);
  await until(`${name} to refuse`, async () => !cluster.running(name), 60_000);
  const out = cluster.log(name).slice(before);
  expect(out).toContain(
    code === 'STORE_LOG_DAMAGED' ? 'damaged write-ahead log' : 'lost consensus writes',
  );
  for (const m of mentions) expect(out).toContain(m);
  expect(out).toMatch(/move .* aside/);
  expect(out).not.toContain('"node started"');
  // The exit says why, with its code.
  expect(out).toMatch(/"code":[1-9].*"reason":"start refused/);
  return out;
}

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 3 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('a damaged write-ahead log under a real daemon', () => {
  it('a byte flipped in the .log: refused with the file and offset; the untouched file starts again', async () => {
    const [log] = await stopWithFreshLog('node3');
    const original = readFileSync(log!);
    const bytes = Buffer.from(original);
    bytes[Math.floor(bytes.length / 3)]! ^= 0x01;
    writeFileSync(log!, bytes);
    await refuses('node3', 'STORE_LOG_DAMAGED', [dataDir('node3'), log!, 'checksum mismatch']);
    // The others keep committing while node3 is out.
    await load(10, ['node1', 'node2']);
    // LevelDB never read the damaged file, so putting the original back is a full recovery.
    writeFileSync(log!, original);
    cluster.start('node3');
    await until('node3 to rejoin and converge', converged, 60_000);
  }, 180_000);

  it('a .log cut in half: refused; moved aside and started empty, it resyncs from peers', async () => {
    const [log] = await stopWithFreshLog('node3');
    truncateSync(log!, Math.floor(readFileSync(log!).length / 2));
    await refuses('node3', 'STORE_LOST_WRITES', [dataDir('node3'), 'RAFT-MARKER']);
    // Refused again: the first attempt did not "repair" it into a smaller store.
    await refuses('node3', 'STORE_LOST_WRITES', [dataDir('node3')]);
    await load(10, ['node1', 'node2']);
    renameSync(dataDir('node3'), `${dataDir('node3')}.damaged`);
    cluster.start('node3');
    await until('node3 to resync and converge', converged, 90_000);
  }, 240_000);

  it('a deleted .log (on another validator): refused, naming the missing log', async () => {
    const files = await stopWithFreshLog('node2');
    for (const f of files) unlinkSync(f);
    await refuses('node2', 'STORE_LOST_WRITES', [dataDir('node2'), 'No write-ahead log']);
    renameSync(dataDir('node2'), `${dataDir('node2')}.damaged`);
    cluster.start('node2');
    await until('node2 to resync and converge', converged, 90_000);
    const { hashes, duplicates } = await chainTxs(cluster, 'node2');
    const inChain = new Set(hashes);
    const lost = [...acknowledged].filter((h) => !inChain.has(h));
    console.log(`acknowledged ${acknowledged.size}, lost ${lost.length}, duplicates ${duplicates}`);
    expect(lost).toEqual([]);
    expect(duplicates).toBe(0);
  }, 240_000);
});
