/**
 * Bad input against a real daemon: each case gets the right JSON-RPC code, an application code
 * in `data` where it applies, and a message that says what was wrong; afterwards the node still
 * serves and its chain and state are exactly as before.
 */
import { request } from 'node:http';
import { RpcClient, signRead } from '@ehr/api';
import {
  encodeTx,
  generateSecretKey,
  loadKeyFile,
  publicKeyOf,
  signTx,
  toHex,
  txHash,
} from '@ehr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Actor, sealFor } from './harness/actors.ts';
import { TestCluster, until } from './harness/cluster.ts';

let cluster: TestCluster;
let url: string;
let rpc: RpcClient;
let chainId: string;
let nodeId: string;
let admin: Actor;
let alice: Actor;
let heart: Actor;
let skin: Actor;
let reportId: string;

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 1 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 30_000);
  url = cluster.node('node1').gatewayUrl;
  rpc = new RpcClient(url);
  chainId = cluster.plan.chainId;
  nodeId = (await rpc.status()).nodeId;
  admin = new Actor('admin', rpc, chainId, loadKeyFile(cluster.plan.adminKey).secretKey);
  alice = new Actor('alice', rpc, chainId);
  heart = new Actor('heart', rpc, chainId);
  skin = new Actor('skin', rpc, chainId);
  const city = generateSecretKey();
  await admin.send('hospital.register', {
    id: 'city-general',
    name: 'City General',
    address: '1 road',
    specializations: ['cardiology', 'dermatology'],
    contact: 'desk@city.example',
    nodes: [],
    encryptionKey: publicKeyOf(city),
  });
  for (const [d, spec] of [
    [heart, 'cardiology'],
    [skin, 'dermatology'],
  ] as const) {
    await admin.send('doctor.register', {
      doctor: d.key,
      hospital: 'city-general',
      name: `Dr. ${d.name}`,
      specialization: spec,
      qualification: 'MD',
      experience: 5,
      contact: 'x@example',
    });
  }
  await alice.signUp('profile');
  reportId = (await alice.submitReport('city-general', 'cardiology', 'a report', publicKeyOf(city)))
    .id;
  await alice.send('consent.grant', { hospital: 'city-general', scope: 'all' });
  await alice.send('consent.revoke', { hospital: 'city-general' });
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
});

async function post(
  body: string,
  method = 'POST',
  contentType: string | null = 'application/json',
) {
  const res = await fetch(url, {
    method,
    headers: contentType === null ? {} : { 'content-type': contentType },
    // fetch labels a string body text/plain; bytes go out with no content type at all.
    ...(method === 'POST'
      ? { body: contentType === null ? new TextEncoder().encode(body) : body }
      : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}
const call = (method: string, params?: unknown, id: unknown = 1) =>
  post(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));

const tx = (over: Partial<{ chainId: string; nonce: number; kind: string }>, payload = {}) => {
  const sk = generateSecretKey();
  return encodeTx(
    signTx(
      {
        chainId: over.chainId ?? chainId,
        author: publicKeyOf(sk),
        nonce: over.nonce ?? 0,
        kind: over.kind ?? 'consent.revoke',
        payload,
        expires: Date.now() + 120_000,
      },
      sk,
    ),
  );
};
const hex = (b: Uint8Array) => toHex(b);
const signed = (who: Actor, method: string, params: Record<string, unknown>, now?: number) =>
  signRead({ chainId, node: nodeId }, method, params, who.secret, now);

type Expect = { code: number; data?: string; message: RegExp; http?: number };
type Case = [name: string, run: () => Promise<{ status: number; json: unknown }>, Expect];

const P = -32602;
const cases: Case[] = [
  [
    'malformed JSON',
    () => post('{"jsonrpc": "2.0", '),
    { code: -32700, message: /not valid JSON/ },
  ],
  ['empty body', () => post(''), { code: -32700, message: /not valid JSON/ }],
  ['a bare string', () => post('"hello"'), { code: -32600, message: /expected an object/ }],
  [
    'wrong version',
    () => post('{"jsonrpc":"1.0","id":1,"method":"status"}'),
    { code: -32600, message: /jsonrpc must be "2.0"/ },
  ],
  [
    'no version',
    () => post('{"id":1,"method":"status"}'),
    { code: -32600, message: /jsonrpc must be "2.0"/ },
  ],
  [
    'method not a string',
    () => post('{"jsonrpc":"2.0","id":1,"method":7}'),
    { code: -32600, message: /method must be a string/ },
  ],
  ['unknown method', () => call('chain_nope'), { code: -32601, message: /chain_nope/ }],
  [
    'id is an object',
    () => post('{"jsonrpc":"2.0","id":{},"method":"status"}'),
    { code: -32600, message: /id must be/ },
  ],
  [
    'params is a string',
    () => post('{"jsonrpc":"2.0","id":1,"method":"status","params":"x"}'),
    { code: -32600, message: /params must be an object or an array/ },
  ],
  ['empty batch', () => post('[]'), { code: -32600, message: /empty batch/ }],
  [
    'huge batch',
    () =>
      post(
        JSON.stringify(
          Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'status' })),
        ),
      ),
    { code: -32600, message: /batch of 101 exceeds the limit of 100/ },
  ],
  [
    'oversize body',
    () =>
      post(
        `{"jsonrpc":"2.0","id":1,"method":"status","params":{"x":"${'a'.repeat(25 * 1024 * 1024)}"}}`,
      ),
    { code: -32600, data: 'REQUEST_TOO_LARGE', message: /exceeds the limit/, http: 413 },
  ],
  [
    'GET instead of POST',
    () => post('', 'GET'),
    { code: -32600, message: /use HTTP POST/, http: 405 },
  ],
  [
    'text/plain body (what a page on another origin may post without asking)',
    () => post('{"jsonrpc":"2.0","id":1,"method":"status"}', 'POST', 'text/plain'),
    {
      code: -32600,
      data: 'UNSUPPORTED_MEDIA_TYPE',
      message: /Content-Type: application\/json \(got "text\/plain"\)/,
      http: 415,
    },
  ],
  [
    'no content type',
    () => post('{"jsonrpc":"2.0","id":1,"method":"status"}', 'POST', null),
    { code: -32600, data: 'UNSUPPORTED_MEDIA_TYPE', message: /\(got none\)/, http: 415 },
  ],
  [
    'form content type',
    () =>
      post(
        '{"jsonrpc":"2.0","id":1,"method":"status"}',
        'POST',
        'application/x-www-form-urlencoded',
      ),
    { code: -32600, data: 'UNSUPPORTED_MEDIA_TYPE', message: /application\/json/, http: 415 },
  ],
  [
    'a 10,000-level array as a hash',
    () =>
      post(
        `{"jsonrpc":"2.0","id":1,"method":"chain_getTx","params":{"hash":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`,
      ),
    { code: P, message: /^Invalid params: params.hash: nested more than 32 levels deep$/ },
  ],
  [
    'tx_submit payloads nested 10,000 deep',
    () =>
      post(
        `{"jsonrpc":"2.0","id":1,"method":"tx_submit","params":{"tx":"00","payloads":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`,
      ),
    { code: P, message: /params.payloads: nested more than 32 levels deep/ },
  ],
  [
    'a limit nested 1,000,000 deep',
    () =>
      post(
        `{"jsonrpc":"2.0","id":1,"method":"hospital_list","params":{"limit":${'{"a":'.repeat(1_000_000)}1${'}'.repeat(1_000_000)}}}`,
      ),
    { code: P, message: /params.limit.a.a.a: nested more than 32 levels deep/ },
  ],
  [
    'a nested limit just under the depth limit',
    () => call('hospital_list', { limit: [[[[1]]]] }),
    { code: P, message: /params.limit: expected an integer from 1 to 1000, got \[\[\[\[1\]\]\]\]/ },
  ],
  ['by-position params', () => call('chain_getBlock', [1]), { code: P, message: /named params/ }],
  [
    'block by height and hash at once',
    async () => {
      const two = await rpc.call<{ hash: string }>('chain_getBlock', { height: 2 });
      return call('chain_getBlock', { height: 1, hash: two.hash });
    },
    { code: P, message: /^Invalid params: params: give height or hash, not both$/ },
  ],
  [
    'block with neither height nor hash',
    () => call('chain_getBlock', {}),
    { code: P, message: /params: give height \(an integer from 1\) or hash/ },
  ],
  [
    'height as a string',
    () => call('chain_getBlock', { height: '1' }),
    { code: P, message: /params.height: expected an integer/ },
  ],
  [
    'negative height',
    () => call('chain_getBlock', { height: -1 }),
    { code: P, message: /params.height: expected an integer from 1/ },
  ],
  [
    'block beyond the tip',
    () => call('chain_getBlock', { height: 999_999 }),
    { code: -32030, data: 'NOT_FOUND', message: /block at height 999999 not found/ },
  ],
  [
    'short hash',
    () => call('chain_getTx', { hash: 'abcd' }),
    { code: P, message: /params.hash: expected 64 lowercase hex/ },
  ],
  [
    'uppercase hash',
    () => call('chain_getTx', { hash: 'AB'.repeat(32) }),
    { code: P, message: /params.hash: expected 64 lowercase hex/ },
  ],
  [
    'unknown transaction',
    () => call('chain_getTx', { hash: 'ab'.repeat(32) }),
    { code: -32030, data: 'NOT_FOUND', message: /not found/ },
  ],
  [
    'unknown field',
    () => call('chain_getTx', { hash: 'ab'.repeat(32), verbose: true }),
    { code: P, message: /params.verbose: unknown field/ },
  ],
  ['submit without tx', () => call('tx_submit', {}), { code: P, message: /params.tx: required/ }],
  [
    'tx not hex',
    () => call('tx_submit', { tx: 'zz' }),
    { code: P, message: /params.tx: expected lowercase hex/ },
  ],
  [
    'tx that does not decode',
    () => call('tx_submit', { tx: '00ff' }),
    { code: -32001, data: 'MALFORMED', message: /does not decode/ },
  ],
  [
    'unknown submit mode',
    () => call('tx_submit', { tx: hex(tx({})), mode: 'fast' }),
    { code: P, message: /params.mode: expected one of "async", "sync", "commit"/ },
  ],
  [
    'zero timeout',
    () => call('tx_submit', { tx: hex(tx({})), timeoutMs: 0 }),
    { code: P, message: /params.timeoutMs: expected an integer from 1/ },
  ],
  [
    'payload not hex',
    () => call('tx_submit', { tx: hex(tx({})), payloads: ['xyz'] }),
    { code: P, message: /params.payloads\[0\]: expected lowercase hex/ },
  ],
  [
    'wrong chain id',
    () => call('tx_submit', { tx: hex(tx({ chainId: 'other-chain' })) }),
    { code: -32002, data: 'WRONG_CHAIN', message: /for chain "other-chain"/ },
  ],
  [
    'bad transaction signature',
    () => {
      const b = tx({});
      b[b.length - 5]! ^= 1;
      return call('tx_submit', { tx: hex(b) });
    },
    { code: -32003, data: 'BAD_SIGNATURE', message: /signature does not verify/ },
  ],
  [
    'nonce far ahead',
    () => call('tx_submit', { tx: hex(tx({ nonce: 100_000 })) }),
    { code: -32004, data: 'BAD_NONCE', message: /too far ahead/ },
  ],
  [
    'oversize transaction',
    () =>
      call('tx_submit', {
        tx: hex(tx({ kind: 'consent.revoke' }, { hospital: 'x'.repeat(70_000) })),
      }),
    { code: -32006, data: 'PAYLOAD_TOO_LARGE', message: /the limit is 65536/ },
  ],
  [
    'signed read without auth',
    () => call('patient_reports', { patient: alice.hex }),
    { code: P, message: /params.auth: required/ },
  ],
  [
    'auth nonce of the wrong length',
    () => {
      const p = signed(alice, 'patient_reports', { patient: alice.hex });
      return call('patient_reports', { ...p, auth: { ...(p['auth'] as object), nonce: 'ab' } });
    },
    { code: P, message: /params.auth.nonce/ },
  ],
  [
    'read signed by someone else',
    () => {
      const p = signed(heart, 'patient_reports', { patient: alice.hex });
      return call('patient_reports', {
        ...p,
        auth: { ...(p['auth'] as object), reader: alice.hex },
      });
    },
    { code: -32003, data: 'BAD_SIGNATURE', message: /read signature does not verify/ },
  ],
  [
    'read signed for another chain',
    () =>
      call(
        'patient_reports',
        signRead(
          { chainId: 'other-chain', node: nodeId },
          'patient_reports',
          { patient: alice.hex },
          alice.secret,
        ),
      ),
    { code: -32003, data: 'BAD_SIGNATURE', message: /read signature does not verify/ },
  ],
  [
    'read signed for another method',
    () => call('patient_audit', signed(alice, 'patient_reports', { patient: alice.hex })),
    { code: -32003, data: 'BAD_SIGNATURE', message: /read signature does not verify/ },
  ],
  [
    'params changed after signing',
    () =>
      call('patient_reports', {
        ...signed(alice, 'patient_reports', { patient: alice.hex }),
        limit: 5,
      }),
    { code: -32003, data: 'BAD_SIGNATURE', message: /read signature does not verify/ },
  ],
  [
    'stale signed read',
    () =>
      call(
        'patient_reports',
        signed(alice, 'patient_reports', { patient: alice.hex }, Date.now() - 60_000),
      ),
    { code: -32050, data: 'READ_STALE', message: /off this node's clock; the limit is 30 s/ },
  ],
  [
    'signed read from the future',
    () =>
      call(
        'patient_reports',
        signed(alice, 'patient_reports', { patient: alice.hex }, Date.now() + 60_000),
      ),
    { code: -32050, data: 'READ_STALE', message: /the limit is 30 s/ },
  ],
  [
    'replayed signed read',
    async () => {
      const p = signed(alice, 'patient_reports', { patient: alice.hex });
      const first = await call('patient_reports', p);
      expect((first.json as { result: { items: unknown[] } }).result.items).toHaveLength(1);
      return call('patient_reports', p);
    },
    { code: -32051, data: 'READ_REPLAYED', message: /already used/ },
  ],
  [
    "a doctor listing a patient's reports",
    () => call('patient_reports', signed(heart, 'patient_reports', { patient: alice.hex })),
    { code: -32007, data: 'UNAUTHORIZED', message: /only the patient may list this/ },
  ],
  [
    'an admin reading a report',
    () => call('record_get', signed(admin, 'record_get', { id: reportId })),
    { code: -32007, data: 'UNAUTHORIZED', message: /an admin may not read/ },
  ],
  [
    'a doctor reading after the consent was revoked',
    () => call('record_get', signed(skin, 'record_get', { id: reportId })),
    { code: -32013, data: 'CONSENT_REVOKED', message: /revoked/ },
  ],
  [
    'an unknown record',
    () => call('record_get', signed(heart, 'record_get', { id: 'cd'.repeat(32) })),
    { code: -32010, data: 'UNKNOWN_RECORD', message: /no record, prescription or patient/ },
  ],
  [
    'a report read as a prescription',
    () => call('prescription_get', signed(alice, 'prescription_get', { id: reportId })),
    { code: -32010, data: 'UNKNOWN_RECORD', message: /is a report, not a prescription/ },
  ],
  [
    'an unknown hospital',
    () => call('hospital_get', { id: 'nowhere' }),
    { code: -32009, data: 'UNKNOWN_HOSPITAL', message: /hospital "nowhere" not found/ },
  ],
  [
    'a hospital id that is not a slug',
    () => call('hospital_get', { id: 'City General' }),
    { code: P, message: /params.id: expected a slug/ },
  ],
  [
    'doctors of an unknown hospital',
    () => call('doctor_list', { hospital: 'nowhere' }),
    { code: -32009, data: 'UNKNOWN_HOSPITAL', message: /not found/ },
  ],
  [
    'an unknown proposal',
    () => call('gov_proposal', { id: 'ef'.repeat(32) }),
    { code: -32017, data: 'UNKNOWN_PROPOSAL', message: /not found/ },
  ],
  [
    'limit of zero',
    () => call('hospital_list', { limit: 0 }),
    { code: P, message: /params.limit: expected an integer from 1 to 1000/ },
  ],
  [
    'subscribe over HTTP',
    () => call('subscribe', { topic: 'blocks' }),
    { code: -32052, data: 'WS_ONLY', message: /WebSocket only/ },
  ],
  [
    'unknown subscription topic',
    () => call('subscribe', { topic: 'weather' }),
    { code: P, message: /params.topic: expected one of "blocks", "tx", "account"/ },
  ],
];

describe('bad input against a real daemon', () => {
  it(`answers ${cases.length} bad requests with the right code and message, state unchanged`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
    const before = await rpc.status();
    for (const [name, run, want] of cases) {
      const res = await run();
      const body = res.json as {
        error?: { code: number; message: string; data?: { code?: string } };
      };
      const got = {
        name,
        http: res.status,
        code: body?.error?.code,
        data: body?.error?.data?.code,
      };
      expect(got, name).toEqual({
        name,
        http: want.http ?? 200,
        code: want.code,
        data: want.data ?? got.data,
      });
      expect(body.error!.message, name).toMatch(want.message);
    }
    // A notification (no id) with a bad method is owed no answer at all.
    const quiet = await post('{"jsonrpc":"2.0","method":"chain_nope"}');
    expect([quiet.status, quiet.json]).toEqual([204, null]);
    // A batch mixes answers: the good call succeeds beside the bad one.
    const mixed = await post(
      '[{"jsonrpc":"2.0","id":1,"method":"status"},{"jsonrpc":"2.0","id":2,"method":"nope"}]',
    );
    const answers = mixed.json as { id: number; result?: unknown; error?: { code: number } }[];
    expect(answers.map((a) => [a.id, a.error?.code ?? 'ok'])).toEqual([
      [1, 'ok'],
      [2, -32601],
    ]);
    // Nothing changed and the node still serves.
    const after = await rpc.status();
    expect([after.height, after.stateHash, after.halted]).toEqual([
      before.height,
      before.stateHash,
      null,
    ]);
    expect(after.mempool.txs).toBe(0);
    await new Actor('bob', rpc, chainId).signUp('bob');
    expect((await rpc.status()).height).toBe(before.height + 1);
  }, 120_000);

  it('publishes an OpenRPC document generated from the schemas it validates with', async () => {
    const doc = await rpc.call<{
      openrpc: string;
      methods: { name: string; params: { name: string; required: boolean; schema: unknown }[] }[];
    }>('rpc.discover');
    expect(doc.openrpc).toMatch(/^1\.2\./);
    const byName = new Map(doc.methods.map((m) => [m.name, m]));
    for (const m of [
      'status',
      'tx_submit',
      'record_get',
      'patient_audit',
      'doctor_reports',
      'gov_proposals',
      'subscribe',
    ]) {
      expect(byName.has(m), m).toBe(true);
    }
    const getTx = byName.get('chain_getTx')!;
    expect(getTx.params).toEqual([
      {
        name: 'hash',
        required: true,
        schema: expect.objectContaining({ pattern: '^[0-9a-f]{64}$' }),
      },
    ]);
    expect(byName.get('record_get')!.params.find((p) => p.name === 'auth')).toMatchObject({
      required: true,
    });
    const m = await rpc.call<{ summary: { height: number; leader: boolean }; text: string }>(
      'node_metrics',
    );
    expect(m.summary).toMatchObject({ height: (await rpc.status()).height, leader: true });
    expect(m.text).toMatch(/^ehr_chain_height \d+$/m);
  });
});

describe('WebSocket', () => {
  it('refuses an upgrade from a page on another origin (no CORS guards WebSockets)', async () => {
    const upgrade = (origin?: string) =>
      new Promise<number>((res, rej) => {
        const u = new URL(url);
        const req = request({
          host: u.hostname,
          port: u.port,
          headers: {
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
            ...(origin ? { origin } : {}),
          },
        });
        req.on('upgrade', (r, socket) => {
          socket.destroy();
          res(r.statusCode ?? 0);
        });
        req.on('response', (r) => {
          r.resume();
          res(r.statusCode ?? 0);
        });
        req.on('error', rej);
        req.end();
      });
    expect(await upgrade('http://evil.example')).toBe(403);
    expect(await upgrade(`http://localhost:${new URL(url).port}`)).toBe(403);
    expect(await upgrade('null')).toBe(403);
    expect(await upgrade()).toBe(101);
    expect(await upgrade(new URL(url).origin)).toBe(101);
  });

  it('streams new blocks and one transaction status; answers bad frames', async () => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'));
    await new Promise((r, j) => {
      ws.onopen = r;
      ws.onerror = j;
    });
    const msgs: {
      id?: number;
      result?: unknown;
      error?: { code: number };
      method?: string;
      params?: { subscription: string; result: Record<string, unknown> };
    }[] = [];
    ws.onmessage = (m) => msgs.push(JSON.parse(String(m.data)));
    const reply = async (id: number) => {
      await until(`reply ${id}`, async () => msgs.find((m) => m.id === id), 5000);
      return msgs.find((m) => m.id === id)!;
    };
    const send = (id: number, method: string, params: unknown) =>
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));

    ws.send('{not json');
    await until('parse error', async () => msgs.some((m) => m.error?.code === -32700), 5000);
    // A frame nested 100,000 deep is answered like over HTTP, and the connection stays up.
    ws.send(
      `{"jsonrpc":"2.0","id":9,"method":"subscribe","params":{"topic":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`,
    );
    const deep = (await reply(9)) as { error?: { code: number; message?: string } };
    expect(deep.error).toMatchObject({
      code: -32602,
      message: 'Invalid params: params.topic: nested more than 32 levels deep',
    });
    send(1, 'subscribe', { topic: 'tx' });
    expect((await reply(1)).error?.code).toBe(-32001);
    send(2, 'subscribe', { topic: 'blocks', extra: 1 });
    expect((await reply(2)).error?.code).toBe(-32602);

    const bob = new Actor('carol', rpc, chainId);
    const profile = sealFor('carol', [bob.key]);
    const signedTx = encodeTx(
      signTx(
        {
          chainId,
          author: bob.key,
          nonce: 0,
          kind: 'patient.register',
          expires: Date.now() + 120_000,
          payload: {
            profileHash: profile.ref.payloadHash,
            profileSize: profile.ref.payloadSize,
            profileKey: profile.keys[0]!,
          },
        },
        bob.secret,
      ),
    );
    const hash = toHex(txHash(signedTx));
    send(3, 'subscribe', { topic: 'blocks' });
    send(4, 'subscribe', { topic: 'tx', hash });
    const blocksSub = (await reply(3)).result as string;
    const txSub = (await reply(4)).result as string;
    await rpc.submitEncoded(signedTx, { mode: 'async', payloads: [profile.body] });
    await until(
      'tx committed notice',
      async () =>
        msgs.find(
          (m) =>
            m.params?.subscription === txSub &&
            (m.params.result['status'] as { status: string }).status === 'committed',
        ),
      15_000,
    );
    await until(
      'block notice',
      async () => msgs.find((m) => m.params?.subscription === blocksSub),
      5000,
    );
    send(5, 'unsubscribe', { subscription: blocksSub });
    expect((await reply(5)).result).toBe(true);
    send(6, 'unsubscribe', { subscription: blocksSub });
    expect((await reply(6)).result).toBe(false);
    ws.close();
  }, 60_000);
});
