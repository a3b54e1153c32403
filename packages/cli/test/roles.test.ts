/**
 * The three roles through the real `ehr` binary against a real single-validator node that the
 * CLI itself set up (`keys new`, `node init`, `genesis new`, `node start`): --json output parsed
 * and asserted, exit codes of rejected transactions and denied reads, and `chain verify` over
 * everything that was committed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcClient } from '@ehr/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/program.ts';
import { BIN, ehr, ehrJson, freePort } from './ehr.ts';

const dir = mkdtempSync(join(tmpdir(), 'ehr-cli-roles-'));
const f = (name: string) => join(dir, name);
let daemon: ChildProcess | undefined;
let rpcUrl = '';
let nodeId = '';
const pub: Record<string, string> = {};

/** Runs `ehr` against the node; `as` signs with that person's key file. */
const run = (args: string[], as?: string, opts: Parameters<typeof ehr>[1] = {}) =>
  ehr([...args, '--rpc', rpcUrl, ...(as ? ['--key', f(`${as}.key.json`)] : [])], {
    cwd: dir,
    ...opts,
  });
const json = <T = Record<string, unknown>>(args: string[], as?: string) =>
  ehrJson<T>([...args, '--rpc', rpcUrl, ...(as ? ['--key', f(`${as}.key.json`)] : [])], {
    cwd: dir,
  });

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  const people = ['admin', 'bob', 'carol', 'city', 'river', 'heart', 'skin', 'alice', 'mallory'];
  for (const p of people) {
    pub[p] = (
      await ehrJson<{ publicKey: string }>(['keys', 'new', f(`${p}.key.json`), '--dev'])
    ).publicKey;
  }
  const [p2p, gw, metrics] = [await freePort(), await freePort(), await freePort()];
  const init = await ehrJson<{ nodeId: string; config: string; address: string }>([
    'node',
    'init',
    '--dir',
    f('node1'),
    '--dev',
    '--p2p-port',
    String(p2p),
    '--gateway-port',
    String(gw),
    '--metrics-port',
    String(metrics),
  ]);
  nodeId = init.nodeId;
  expect(init.address).toMatch(new RegExp(`^/ip4/127.0.0.1/tcp/${p2p}/p2p/12D3KooW`));
  await ehrJson([
    'genesis',
    'new',
    '--chain-id',
    'cli-roles',
    '--admin',
    f('admin.key.json'),
    '--validator',
    join(f('node1'), 'node.key.json'),
    '--out',
    join(f('node1'), 'genesis.json'),
  ]);
  const log = openSync(f('node1.log'), 'a');
  daemon = spawn(process.execPath, [BIN, 'node', 'start', '--config', init.config], {
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  rpcUrl = `http://127.0.0.1:${gw}/`;
  const rpc = new RpcClient(rpcUrl);
  await until(
    'the node to lead',
    async () => ((await rpc.status()).role === 'leader' ? true : undefined),
    60_000,
  );
}, 120_000);

afterAll(async () => {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
    const exited = new Promise((r) => daemon!.once('exit', r));
    daemon.kill('SIGTERM');
    const timer = setTimeout(() => daemon!.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (process.env['KEEP_E2E']) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}, 30_000);

interface Tx {
  hash: string;
  status: string;
  height: number;
}

// Each step spawns the binary a dozen times or more: generous on a loaded machine.
describe('ehr against a node it set up', { timeout: 180_000 }, () => {
  const ids: Record<string, string> = {};

  it('node init wrote a config the daemon runs with', async () => {
    const s = await json<{ role: string; chainId: string; nodeId: string; validators: string[] }>([
      'node',
      'status',
    ]);
    expect(s).toMatchObject({ role: 'leader', chainId: 'cli-roles', nodeId, validators: [nodeId] });
    expect(await json(['node', 'peers'])).toEqual([]);
    const head = await json<{ chainId: string; height: number }>(['chain', 'status']);
    expect(head.chainId).toBe('cli-roles');
  });

  it('admin: hospitals, doctors, members, governance', async () => {
    const city = await json<Tx & { id: string }>(
      [
        'admin',
        'hospital',
        'add',
        '--id',
        'city-general',
        '--name',
        'City General',
        '--specialization',
        'cardiology',
        'dermatology',
        '--encryption-key',
        f('city.key.json'),
        '--address',
        '1 Main St',
        '--node',
        nodeId,
      ],
      'admin',
    );
    expect(city).toMatchObject({ id: 'city-general', status: 'committed' });
    expect(city.height).toBeGreaterThan(0);
    await json(
      [
        'admin',
        'hospital',
        'add',
        '--id',
        'river-clinic',
        '--name',
        'River Clinic',
        '--specialization',
        'cardiology',
        '--encryption-key',
        pub['river']!,
      ],
      'admin',
    );
    for (const [who, spec] of [
      ['heart', 'cardiology'],
      ['skin', 'dermatology'],
    ] as const) {
      const d = await json<Tx & { doctor: string }>(
        [
          'admin',
          'doctor',
          'add',
          '--doctor',
          f(`${who}.key.json`),
          '--hospital',
          'city-general',
          '--name',
          `Dr. ${who}`,
          '--specialization',
          spec,
          '--experience',
          '7',
        ],
        'admin',
      );
      expect(d.doctor).toBe(pub[who]);
    }
    const hospitals = await json<{ id: string; encryptionKey: string }[]>([
      'admin',
      'hospital',
      'list',
    ]);
    expect(hospitals.map((h) => h.id).sort()).toEqual(['city-general', 'river-clinic']);
    const shown = await json<{
      encryptionKey: string;
      nodes: string[];
      doctors: { name: string }[];
    }>(['admin', 'hospital', 'show', 'city-general']);
    expect(shown.encryptionKey).toBe(pub['city']);
    expect(shown.nodes).toEqual([nodeId]);
    expect(shown.doctors.map((d) => d.name).sort()).toEqual(['Dr. heart', 'Dr. skin']);
    const doctors = await json<{ key: string }[]>(['admin', 'doctor', 'list']);
    expect(doctors).toHaveLength(2);
    // The table shows the same thing for people.
    const table = await run(['admin', 'doctor', 'list', '--hospital', 'city-general']);
    expect(table.stdout).toMatch(/^DOCTOR +NAME +HOSPITAL/);
    expect(table.stdout).toContain('Dr. heart');

    // Not an admin: the ledger rejects it (exit 4, the code named).
    const denied = await run(
      [
        'admin',
        'hospital',
        'add',
        '--id',
        'fake',
        '--name',
        'Fake',
        '--specialization',
        'x',
        '--encryption-key',
        pub['mallory']!,
      ],
      'mallory',
    );
    expect(denied.code).toBe(EXIT.REJECTED);
    expect(denied.stderr).toMatch(
      /hospital.register rejected: .*needs a registered admin.*\[UNKNOWN_ACCOUNT\]/,
    );
    // Taken id: also a rejection.
    const taken = await run(
      [
        'admin',
        'hospital',
        'add',
        '--id',
        'river-clinic',
        '--name',
        'Again',
        '--specialization',
        'x',
        '--encryption-key',
        pub['river']!,
      ],
      'admin',
    );
    expect(taken.code).toBe(EXIT.REJECTED);
    expect(taken.stderr).toMatch(/\[ALREADY_EXISTS\]/);

    // Governance: with one admin a proposal applies at once; with two it needs the other's approval.
    const bob = await json<{ proposal: { status: string; id: string } }>(
      ['admin', 'propose', 'add', 'admin', f('bob.key.json'), '--reason', 'second admin'],
      'admin',
    );
    expect(bob.proposal.status).toBe('applied');
    const carol = await json<{ tx: Tx; proposal: { status: string; approvals: string[] } }>(
      ['admin', 'propose', 'add', 'admin', pub['carol']!],
      'admin',
    );
    expect(carol.proposal).toMatchObject({ status: 'open', approvals: [pub['admin']] });
    const open = await json<{ id: string }[]>(['admin', 'proposals', '--status', 'open']);
    expect(open.map((p) => p.id)).toEqual([carol.tx.hash]);
    const approved = await json<{ proposal: { status: string } }>(
      ['admin', 'approve', carol.tx.hash],
      'bob',
    );
    expect(approved.proposal.status).toBe('applied');
    const twice = await run(['admin', 'approve', carol.tx.hash], 'bob');
    expect(twice.code).toBe(EXIT.REJECTED);
    const members = await json<{
      admins: { key: string }[];
      members: { node: string; role: string }[];
    }>(['admin', 'members']);
    expect(members.admins.map((a) => a.key).sort()).toEqual(
      [pub['admin'], pub['bob'], pub['carol']].sort(),
    );
    expect(members.members).toEqual([expect.objectContaining({ node: nodeId, role: 'validator' })]);
    const validators = await json<{ onChain: string[]; voters: string[] }>([
      'admin',
      'validator',
      'list',
    ]);
    expect(validators).toMatchObject({ onChain: [nodeId], voters: [nodeId] });
  });

  it('patient: sign up, report, document', async () => {
    const reg = await json<Tx & { patient: string }>(
      ['patient', 'register', '--name', 'Alice Doe', '--born', '1990-04-01'],
      'alice',
    );
    expect(reg.patient).toBe(pub['alice']);
    const profile = await json<{ content: { type: string; value: unknown } }>(
      ['patient', 'profile'],
      'alice',
    );
    expect(profile.content).toEqual({
      type: 'json',
      value: { name: 'Alice Doe', born: '1990-04-01' },
    });
    const hospitals = await json<{ id: string; consent: unknown }[]>(
      ['patient', 'hospitals'],
      'alice',
    );
    expect(hospitals.map((h) => [h.id, h.consent])).toEqual([
      ['city-general', null],
      ['river-clinic', null],
    ]);
    const report = await json<Tx & { hospital: string }>(
      [
        'patient',
        'report',
        'submit',
        '--hospital',
        'city-general',
        '--specialization',
        'cardiology',
        '--text',
        'chest pain since Monday',
      ],
      'alice',
    );
    ids['report'] = report.hash;
    writeFileSync(f('ecg.pdf'), Buffer.from('%PDF-1.4 an ecg trace \u0000\u0001\u00ff'));
    const doc = await json<Tx & { report: string }>(
      ['patient', 'document', 'attach', '--file', f('ecg.pdf'), '--report', report.hash],
      'alice',
    );
    expect(doc.report).toBe(report.hash);
    ids['document'] = doc.hash;
    const reports = await json<{ id: string; status: string; documents: { id: string }[] }[]>(
      ['patient', 'reports'],
      'alice',
    );
    expect(reports.map((r) => [r.id, r.status, r.documents.map((d) => d.id)])).toEqual([
      [report.hash, 'pending', [doc.hash]],
    ]);
    const own = await json<{ content: { type: string; text: string } }>(
      ['patient', 'report', 'show', report.hash],
      'alice',
    );
    expect(own.content).toEqual({ type: 'text', text: 'chest pain since Monday' });

    const unknown = await run(
      [
        'patient',
        'report',
        'submit',
        '--hospital',
        'nowhere',
        '--specialization',
        'cardiology',
        '--text',
        'x',
      ],
      'alice',
    );
    expect(unknown.code).toBe(EXIT.NOT_FOUND);
    expect(unknown.stderr).toMatch(/no hospital "nowhere"/);
    const wrongSpec = await run(
      [
        'patient',
        'report',
        'submit',
        '--hospital',
        'river-clinic',
        '--specialization',
        'dermatology',
        '--text',
        'x',
      ],
      'alice',
    );
    expect(wrongSpec.code).toBe(EXIT.REJECTED);
    expect(wrongSpec.stderr).toMatch(/does not offer "dermatology"/);
  });

  it('doctor: pending report for the matching specialization only; reads are opened with the hospital key', async () => {
    const reports = await json<{ id: string; access: string }[]>(['doctor', 'reports'], 'heart');
    expect(reports.map((r) => [r.id, r.access])).toEqual([[ids['report'], 'PENDING_REPORT']]);
    const patients = await json<{ patient: string; reasons: string[] }[]>(
      ['doctor', 'patients'],
      'heart',
    );
    expect(patients).toEqual([
      expect.objectContaining({ patient: pub['alice'], reasons: ['PENDING_REPORT'] }),
    ]);
    expect(await json(['doctor', 'reports'], 'skin')).toEqual([]);

    const hk = ['--hospital-key', f('city.key.json')];
    const read = await json<{ reason: string; audit: string; content: { text: string } }>(
      ['doctor', 'report', 'show', ids['report']!, ...hk, '--purpose', 'treatment'],
      'heart',
    );
    expect(read).toMatchObject({
      reason: 'PENDING_REPORT',
      content: { type: 'text', text: 'chest pain since Monday' },
    });
    expect(read.audit).toMatch(/^[0-9a-f]{64}$/);
    // The document: saved byte for byte.
    const saved = await json<{ content: { savedTo: string; mediaType: string } }>(
      ['doctor', 'report', 'show', ids['document']!, ...hk, '--out', f('ecg-copy.pdf')],
      'heart',
    );
    expect(saved.content).toMatchObject({
      type: 'file',
      name: 'ecg.pdf',
      mediaType: 'application/pdf',
    });
    expect(readFileSync(f('ecg-copy.pdf'))).toEqual(readFileSync(f('ecg.pdf')));

    // Without the hospital key, or with another key: refused before anything is read.
    const noKey = await run(['doctor', 'report', 'show', ids['report']!], 'heart');
    expect(noKey.code).toBe(EXIT.USAGE);
    expect(noKey.stderr).toMatch(/--hospital-key/);
    const wrongKey = await run(
      ['doctor', 'report', 'show', ids['report']!, '--hospital-key', f('river.key.json')],
      'heart',
    );
    expect(wrongKey.code).toBe(EXIT.DENIED);
    expect(wrongKey.stderr).toMatch(/not the encryption key of city-general/);
    // Another specialization, no consent yet: denied by the access rules.
    const skin = await run(['doctor', 'report', 'show', ids['report']!, ...hk], 'skin');
    expect(skin.code).toBe(EXIT.DENIED);
    expect(skin.stderr).toMatch(/\[CONSENT_MISSING\]/);
  });

  it('share, prescribe, read the prescription, revoke', async () => {
    const shared = await json<{
      hospital: string;
      keysShared: number;
      expiresAt: number;
      txs: Tx[];
    }>(['patient', 'share', '--hospital', 'city-general', '--expires', '30d'], 'alice');
    // The profile, the report and the document: each key re-wrapped for the hospital.
    expect(shared).toMatchObject({ hospital: 'city-general', keysShared: 3 });
    expect(shared.expiresAt).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const hk = ['--hospital-key', f('city.key.json')];
    const bySkin = await json<{ reason: string; content: { text: string } }>(
      ['doctor', 'report', 'show', ids['report']!, ...hk],
      'skin',
    );
    expect(bySkin).toMatchObject({
      reason: 'CONSENT',
      content: { text: 'chest pain since Monday' },
    });
    const profile = await json<{ content: { value: { name: string } } }>(
      ['doctor', 'profile', pub['alice']!, ...hk],
      'skin',
    );
    expect(profile.content.value.name).toBe('Alice Doe');
    // A report submitted after sharing carries the shared hospital's key too.
    const later = await json<Tx>(
      [
        'patient',
        'report',
        'submit',
        '--hospital',
        'river-clinic',
        '--specialization',
        'cardiology',
        '--text',
        'palpitations',
      ],
      'alice',
    );
    const laterRead = await json<{ reason: string; content: { text: string } }>(
      ['doctor', 'report', 'show', later.hash, ...hk],
      'heart',
    );
    expect(laterRead).toMatchObject({ reason: 'CONSENT', content: { text: 'palpitations' } });

    const rx = await json<Tx & { record: string; patient: string }>(
      ['doctor', 'prescribe', '--report', ids['report']!, '--text', 'aspirin 75mg daily, 30 days'],
      'heart',
    );
    expect(rx).toMatchObject({ record: ids['report'], patient: pub['alice'], status: 'committed' });
    ids['rx'] = rx.hash;
    const mine = await json<
      { id: string; doctorName: string; hospital: string; content: { text: string } }[]
    >(['patient', 'prescriptions'], 'alice');
    expect(mine.map((p) => [p.id, p.doctorName, p.hospital, p.content.text])).toEqual([
      [rx.hash, 'Dr. heart', 'city-general', 'aspirin 75mg daily, 30 days'],
    ]);
    const reports = await json<{ id: string; status: string }[]>(['patient', 'reports'], 'alice');
    expect(reports.find((r) => r.id === ids['report'])?.status).toBe('prescribed');

    await json(['patient', 'revoke', '--hospital', 'city-general'], 'alice');
    const after = await run(['doctor', 'report', 'show', ids['report']!, ...hk], 'skin');
    expect(after.code).toBe(EXIT.DENIED);
    expect(after.stderr).toMatch(/\[CONSENT_REVOKED\]/);
    // The prescriber keeps their own prescription.
    const kept = await json<{ reason: string; content: { text: string } }>(
      ['doctor', 'prescription', 'show', ids['rx']!, ...hk],
      'heart',
    );
    expect(kept).toMatchObject({
      reason: 'PRESCRIBER',
      content: { text: 'aspirin 75mg daily, 30 days' },
    });
    const again = await run(['patient', 'revoke', '--hospital', 'city-general'], 'alice');
    expect(again.code).toBe(EXIT.REJECTED);
    expect(again.stderr).toMatch(/consent.revoke rejected: .*already revoked/);
    const consents = await json<{ hospital: string; revokedAt: number | null; inForce: boolean }[]>(
      ['patient', 'consents'],
      'alice',
    );
    expect(consents).toEqual([
      expect.objectContaining({ hospital: 'city-general', inForce: false }),
    ]);
    expect(consents[0]!.revokedAt).not.toBeNull();
  });

  it("the patient's audit trail names who read what and why", async () => {
    const events = await json<
      { reader: string; readerName: string | null; target: string; purpose: string; node: string }[]
    >(['patient', 'audit'], 'alice');
    const byDoctors = events.filter((e) => e.reader !== pub['alice']);
    expect(byDoctors.map((e) => [e.readerName, e.target, e.purpose])).toEqual(
      expect.arrayContaining([
        ['Dr. heart', ids['report'], 'TREAT'],
        ['Dr. heart', ids['document'], 'TREAT'],
        ['Dr. skin', ids['report'], 'TREAT'],
        ['Dr. skin', pub['alice'], 'TREAT'],
      ]),
    );
    // Refused reads were never served, so they are not in the trail.
    expect(byDoctors.filter((e) => e.readerName === 'Dr. skin')).toHaveLength(2);
    expect(new Set(events.map((e) => e.node))).toEqual(new Set([nodeId]));
  });

  it('chain verify checks every block here; blocks and proofs', async () => {
    const head = await json<{ height: number }>(['chain', 'status']);
    const r = await ehr([
      'chain',
      'verify',
      '--genesis',
      join(f('node1'), 'genesis.json'),
      '--json',
      '--rpc',
      rpcUrl,
    ]);
    expect(r.code).toBe(EXIT.OK);
    const v = JSON.parse(r.stdout) as {
      ok: boolean;
      checked: number;
      anchored: boolean;
      transactions: number;
    };
    expect(v.ok).toBe(true);
    expect(v.anchored).toBe(true);
    expect(v.checked).toBeGreaterThanOrEqual(head.height);
    // Every transaction this node committed since it started with an empty chain.
    const m = await new RpcClient(rpcUrl).call<{ summary: { committedTxs: number } }>(
      'node_metrics',
    );
    expect(v.transactions).toBe(m.summary.committedTxs);
    expect(v.transactions).toBeGreaterThan(10);
    expect(r.stderr).toMatch(/verified \d+\/\d+ blocks/);
    const part = await json<{ ok: boolean; checked: number; from: number }>([
      'chain',
      'verify',
      '--from',
      '3',
      '--to',
      '5',
    ]);
    expect(part).toMatchObject({ ok: true, checked: 3, from: 3 });
    const human = await run(['chain', 'verify']);
    expect(human.stdout).toMatch(/^ok: blocks 1\.\.\d+ verify/);

    const tx = await json<{
      kind: string;
      author: string;
      status: { height: number };
      proof: { verified: boolean };
    }>(['chain', 'tx', ids['report']!, '--proof']);
    expect(tx).toMatchObject({
      kind: 'record.submit',
      author: pub['alice'],
      proof: { verified: true },
    });
    const block = await json<{ height: number; txs: string[]; raw?: string }>([
      'chain',
      'block',
      String(tx.status.height),
    ]);
    expect(block.txs).toContain(ids['report']);
    expect(block.raw).toBeUndefined();
    const missing = await run(['chain', 'block', '999999']);
    expect(missing.code).toBe(EXIT.NOT_FOUND);
    const beyond = await run(['chain', 'verify', '--to', '999999']);
    expect(beyond.code).toBe(EXIT.USAGE);
    // With --json, errors are JSON too.
    const asJson = await run(['chain', 'block', '999999', '--json']);
    expect(asJson.stdout).toBe('');
    expect(JSON.parse(asJson.stderr)).toMatchObject({
      error: { exit: EXIT.NOT_FOUND, code: 'NOT_FOUND' },
    });
  });

  it('chain verify does not trust the node: a gateway that alters one block is caught there (exit 7)', async () => {
    // A lying gateway in front of the real one: block 4 comes back with its last byte changed.
    const liar = createServer(async (req, res) => {
      let body = '';
      for await (const c of req) body += c;
      const upstream = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const reply = (await upstream.json()) as { result?: { height?: number; raw?: string } };
      const q = JSON.parse(body) as { method: string };
      if (q.method === 'chain_getBlock' && reply.result?.height === 4 && reply.result.raw) {
        const raw = reply.result.raw;
        reply.result.raw = raw.slice(0, -2) + (raw.endsWith('00') ? '01' : '00');
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    });
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(liar.address() as { port: number }).port}/`;
      const r = await ehr(['chain', 'verify', '--json', '--rpc', url]);
      expect(r.code).toBe(EXIT.CORRUPT);
      const v = JSON.parse(r.stdout) as {
        ok: boolean;
        checked: number;
        bad: { height: number; reason: string };
      };
      expect(v).toMatchObject({ ok: false, checked: 3, bad: { height: 4 } });
      const human = await ehr(['chain', 'verify', '--rpc', url]);
      expect(human.code).toBe(EXIT.CORRUPT);
      expect(human.stdout).toMatch(/^BAD BLOCK at height 4: /);
    } finally {
      await new Promise((r) => liar.close(r));
    }
  });
});
