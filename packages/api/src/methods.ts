/**
 * The JSON-RPC method catalogue: names, params schemas, whether a signed read is required, and
 * what comes back. The gateway validates params against it and serves it as OpenRPC
 * (`rpc.discover`); clients and the CLI are written against it.
 */
import { PURPOSE_CODES, PURPOSES } from '@ehr/core';
import { resultSchema } from './results.ts';
import { type Schema, s } from './schema-shape.ts';

export interface MethodSpec {
  name: string;
  summary: string;
  /** Named params (by-name only). */
  params: Record<string, Schema>;
  required?: string[];
  /** Needs `auth` (a signed read); the gateway checks it before anything else. */
  signed?: boolean;
  /** Reads health data: the serving node records an audit event (access.record). */
  audited?: boolean;
  /** Only over WebSocket. */
  wsOnly?: boolean;
  result: { name: string; description: string };
}

export const authSchema: Schema = s.object(
  'signed-read credentials (see signRead in @ehr/api)',
  {
    reader: s.hex32("the reader's Ed25519 public key"),
    node: s.hex32('the node this read is for (its node id from `status`); other nodes refuse it'),
    time: s.int("the reader's clock, ms since the epoch", 0, 8_640_000_000_000_000),
    nonce: { type: 'string', pattern: '^[0-9a-f]{32}$', description: '16 random bytes, hex' },
    signature: {
      type: 'string',
      pattern: '^[0-9a-f]{128}$',
      description: 'Ed25519 signature, hex',
    },
  },
  ['reader', 'node', 'time', 'nonce', 'signature'],
);

/** Why it is read, as a PurposeOfUse code (recorded on chain in plaintext: never free text). */
const purpose = s.oneOf(
  `why it is read, recorded in the audit trail: an HL7 PurposeOfUse code (${PURPOSE_CODES.map((c) => `${c} = ${PURPOSES[c]}`).join(', ')}); default TREAT`,
  PURPOSE_CODES,
);

const key = (d: string) => s.hex32(d);
const id = (d: string) => s.hex32(d);
const limit = s.int(
  'at most this many items in this page (default 100, at most 1000); a page may hold fewer and still have a cursor',
  1,
  1000,
);
/** The `cursor` of the previous page, passed back unchanged (absent: the first page). */
const cursor: Schema = {
  type: 'string',
  minLength: 1,
  maxLength: 1024,
  description:
    'the cursor the previous page returned, unchanged; absent for the first page. A page without a cursor ends the list',
};
const r = (name: string, description: string) => ({ name, description });

export const METHODS: MethodSpec[] = [
  {
    name: 'status',
    summary: "The node's role, term, leader, height, catching-up flag, peers and validators",
    params: {},
    result: r('status', 'NodeStatus'),
  },
  {
    name: 'chain_config',
    summary:
      "The chain's id, genesis hash, governance threshold and limits (sizes, items per list)",
    params: {},
    result: r('config', 'ChainConfig'),
  },
  {
    name: 'chain_getBlock',
    summary: 'A block by height or by hash, with its header, transaction hashes and raw bytes',
    params: {
      height: s.int('block height', 1, Number.MAX_SAFE_INTEGER),
      hash: s.hex32('block hash'),
    },
    result: r('block', '{ height, hash, header, signature, txs, raw }'),
  },
  {
    name: 'chain_blocks',
    summary: 'Block headers, newest first (no transactions: chain_getBlock has them)',
    params: { limit, cursor },
    result: r('blocks', '{ items: { height, hash, header, signature, txs }[], cursor? }'),
  },
  {
    name: 'chain_getTx',
    summary: 'A transaction with its receipt (or its pending/rejected status)',
    params: { hash: s.hex32('transaction hash') },
    required: ['hash'],
    result: r('tx', '{ hash, status, kind, author, nonce }'),
  },
  {
    name: 'chain_getProof',
    summary: "A Merkle proof that a transaction is in its block's txRoot",
    params: { hash: s.hex32('transaction hash') },
    required: ['hash'],
    result: r('proof', '{ height, index, count, txRoot, proof }'),
  },
  {
    name: 'tx_submit',
    summary:
      'Submits a signed transaction with its sealed bodies. async: accepted into the mempool; sync: also checked against the rules; commit: waits until committed (or timeoutMs)',
    params: {
      tx: s.hex('the encoded signed transaction', 2 * 1024 * 1024),
      bodies: s.list(
        'sealed bodies the transaction references, base64 (preferred: a third the size of hex)',
        s.base64('a sealed body'),
        64,
      ),
      payloads: s.list(
        'sealed bodies the transaction references, hex (older clients; bodies and payloads may be combined)',
        s.hex('a sealed body'),
        64,
      ),
      mode: s.oneOf('submit mode (default commit)', ['async', 'sync', 'commit']),
      timeoutMs: s.int('commit mode: how long to wait (default 10000)', 1, 120_000),
    },
    required: ['tx'],
    result: r('submitted', '{ hash, status }'),
  },
  {
    name: 'tx_status',
    summary: "A transaction's status: pending, rejected (code, message) or committed (receipt)",
    params: { hash: s.hex32('transaction hash') },
    required: ['hash'],
    result: r('status', '{ hash, status }'),
  },
  {
    name: 'account_get',
    summary: "An account's next nonce and role (admin, doctor, patient, node or none)",
    params: { key: key('account public key') },
    required: ['key'],
    result: r('account', '{ key, nonce, role }'),
  },
  {
    name: 'hospital_list',
    summary: 'Registered hospitals (the public directory)',
    params: { limit, cursor },
    result: r('hospitals', '{ items: Hospital[], cursor? }'),
  },
  {
    name: 'hospital_get',
    summary: 'One hospital',
    params: { id: s.slug('hospital id') },
    required: ['id'],
    result: r('hospital', 'Hospital'),
  },
  {
    name: 'doctor_list',
    summary: "A hospital's doctors (the public directory)",
    params: { hospital: s.slug('hospital id'), limit, cursor },
    required: ['hospital'],
    result: r('doctors', '{ items: Doctor[], cursor? }'),
  },
  {
    name: 'doctor_get',
    summary: 'One doctor',
    params: { key: key('doctor public key') },
    required: ['key'],
    result: r('doctor', 'Doctor'),
  },
  {
    name: 'gov_proposals',
    summary: 'Governance proposals, newest first, optionally by status',
    params: { status: s.oneOf('proposal status', ['open', 'applied', 'failed']), limit, cursor },
    result: r('proposals', '{ items: Proposal[], cursor? }'),
  },
  {
    name: 'gov_proposal',
    summary: 'One proposal with its votes',
    params: { id: id('proposal id') },
    required: ['id'],
    result: r('proposal', 'Proposal & { votes }'),
  },
  {
    name: 'gov_validators',
    summary: 'Validators on chain and in consensus',
    params: {},
    result: r('validators', '{ onChain, voters, learners }'),
  },
  {
    name: 'gov_members',
    summary: 'Member nodes (validators and observers) and admins',
    params: {},
    result: r('members', '{ members, admins }'),
  },
  {
    name: 'patient_reports',
    summary: "A patient's reports (metadata and the data key wrapped for the patient)",
    params: { patient: key('patient key (must be the reader)'), limit, cursor },
    required: ['patient'],
    signed: true,
    result: r('reports', '{ items: Record[], cursor? }'),
  },
  {
    name: 'patient_documents',
    summary: "A patient's documents, optionally those attached to one report",
    params: {
      patient: key('patient key (must be the reader)'),
      report: id('report id'),
      limit,
      cursor,
    },
    required: ['patient'],
    signed: true,
    result: r('documents', '{ items: Record[], cursor? }'),
  },
  {
    name: 'patient_prescriptions',
    summary: "A patient's prescriptions with the prescribing doctor's name",
    params: { patient: key('patient key (must be the reader)'), limit, cursor },
    required: ['patient'],
    signed: true,
    result: r('prescriptions', '{ items: Prescription[], cursor? }'),
  },
  {
    name: 'patient_consents',
    summary: "A patient's consents (in force, expired or revoked)",
    params: { patient: key('patient key (must be the reader)'), limit, cursor },
    required: ['patient'],
    signed: true,
    result: r('consents', '{ items: Consent[], cursor? }'),
  },
  {
    name: 'patient_audit',
    summary: "Who read a patient's data: every recorded read, oldest first",
    params: { patient: key('patient key (must be the reader)'), limit, cursor },
    required: ['patient'],
    signed: true,
    result: r('events', '{ items: AuditEvent[], cursor? }'),
  },
  {
    name: 'doctor_patients',
    summary:
      "A doctor's patients: those with a report the doctor may open (pending for them, prescribed on, or shared by consent), or whose profile is shared with the doctor's hospital",
    params: { doctor: key('doctor key (must be the reader)'), limit, cursor },
    required: ['doctor'],
    signed: true,
    result: r('patients', '{ items: { patient, reasons, reports }[], cursor? }'),
  },
  {
    name: 'doctor_reports',
    summary:
      'Exactly the reports the access rules let a doctor open (record_get): pending for their hospital and specialization, prescribed on by them, or shared by a consent covering the report',
    params: { doctor: key('doctor key (must be the reader)'), limit, cursor },
    required: ['doctor'],
    signed: true,
    result: r('reports', '{ items: Record[] with reason, cursor? }'),
  },
  {
    name: 'record_documents',
    summary:
      'The documents attached to a report, for anyone the access rules let read that report (metadata only; bodies through record_get)',
    params: { id: id('report id'), limit, cursor },
    required: ['id'],
    signed: true,
    result: r('documents', '{ items: Record[], cursor? }'),
  },
  {
    name: 'record_get',
    summary:
      'A report or document with its sealed body and the data key wrapped for the reader; the access rules apply and a read by anyone but the patient is recorded',
    params: { id: id('record id'), purpose },
    required: ['id'],
    signed: true,
    audited: true,
    result: r('record', '{ record, body, wrappedKey, reason, audit }'),
  },
  {
    name: 'prescription_get',
    summary: 'A prescription with its sealed body; the access rules apply and the read is recorded',
    params: { id: id('prescription id'), purpose },
    required: ['id'],
    signed: true,
    audited: true,
    result: r('prescription', '{ prescription, body, wrappedKey, reason, audit }'),
  },
  {
    name: 'patient_profile',
    summary: "A patient's sealed profile; the access rules apply and the read is recorded",
    params: { patient: key('patient key'), purpose },
    required: ['patient'],
    signed: true,
    audited: true,
    result: r('profile', '{ patient, body, wrappedKey, reason, audit }'),
  },
  {
    name: 'node_peers',
    summary: 'Connected peers and their addresses',
    params: {},
    result: r('peers', '{ nodeId, addresses }[]'),
  },
  {
    name: 'node_metrics',
    summary:
      "This node's headline metrics (height, term, leader, peers, mempool, commits, commit latency, sync) and the full Prometheus text",
    params: {},
    result: r('metrics', '{ summary, text }'),
  },
  {
    name: 'subscribe',
    summary:
      'WebSocket only: new blocks (topic "blocks"), one transaction\'s status ("tx", hash), or the committed transactions of one account ("account", key). Notifications: method "subscription", params { subscription, result }',
    params: {
      topic: s.oneOf('what to follow', ['blocks', 'tx', 'account']),
      hash: s.hex32('topic "tx": the transaction hash'),
      key: key('topic "account": the account key'),
    },
    required: ['topic'],
    wsOnly: true,
    result: r('subscription', 'subscription id (string)'),
  },
  {
    name: 'unsubscribe',
    summary: 'WebSocket only: stops a subscription',
    params: { subscription: { type: 'string', minLength: 1, maxLength: 64, description: 'id' } },
    required: ['subscription'],
    wsOnly: true,
    result: r('removed', 'boolean'),
  },
  {
    name: 'rpc.discover',
    summary: 'This API as an OpenRPC document',
    params: {},
    result: r('openrpc', 'OpenRPC document'),
  },
];

export const METHOD_BY_NAME: ReadonlyMap<string, MethodSpec> = new Map(
  METHODS.map((m) => [m.name, m]),
);

/** The full params schema of a method (signed methods also take `auth`). */
export function paramsSchema(m: MethodSpec): Schema {
  // One object per method, so its compiled validator is cached (schema.ts caches by identity).
  let sc = paramsSchemas.get(m);
  if (!sc) {
    sc = fullParamsSchema(m);
    paramsSchemas.set(m, sc);
  }
  return sc;
}

const paramsSchemas = new WeakMap<MethodSpec, Schema>();

function fullParamsSchema(m: MethodSpec): Schema {
  return s.object(
    `${m.name} params`,
    m.signed ? { ...m.params, auth: authSchema } : m.params,
    m.signed ? [...(m.required ?? []), 'auth'] : (m.required ?? []),
  );
}

/** The OpenRPC 1.2 document for the catalogue. */
export function openRpcDocument(version: string): Record<string, unknown> {
  return {
    openrpc: '1.2.6',
    info: {
      title: 'ehr-ledger gateway',
      version,
      description:
        'JSON-RPC 2.0 over HTTP POST and WebSocket. Signed reads carry `auth` (see the ReadAuth schema); application errors are -32000..-32099 with data.code naming the reason.',
    },
    methods: METHODS.map((m) => ({
      name: m.name,
      summary: m.summary,
      paramStructure: 'by-name',
      params: Object.entries(m.signed ? { ...m.params, auth: authSchema } : m.params).map(
        ([name, schema]) => ({
          name,
          required: (m.required ?? []).includes(name) || (m.signed === true && name === 'auth'),
          schema,
        }),
      ),
      result: {
        name: m.result.name,
        description: m.result.description,
        schema: resultSchema(m.name),
      },
      ...(m.signed || m.audited || m.wsOnly
        ? {
            'x-ehr': {
              ...(m.signed ? { signedRead: true } : {}),
              ...(m.audited ? { audited: true } : {}),
              ...(m.wsOnly ? { webSocketOnly: true } : {}),
            },
          }
        : {}),
    })),
    components: { schemas: { ReadAuth: authSchema } },
  };
}
