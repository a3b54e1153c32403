/**
 * Result schemas of the method catalogue, published in the OpenRPC document (`rpc.discover`) so
 * third-party clients can validate answers. They mirror the ledger's entity types
 * (packages/ledger/src/model.ts) as the gateway serves them: byte fields become lowercase hex.
 * Objects list every field and allow no others, so test/result-schemas.test.ts, which validates
 * each method's answer from a real daemon, fails when a shape changes and this file does not.
 */
import { type Schema, s } from './schema-shape.ts';

/** Every key required, no other key allowed; `optional` keys may be absent. */
const obj = (
  description: string,
  properties: Record<string, Schema>,
  optional: string[] = [],
): Schema => ({
  type: 'object',
  description,
  properties,
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
  additionalProperties: false,
});
const str = (description: string): Schema => ({ type: 'string', description });
const int = (description: string): Schema => ({ type: 'integer', minimum: 0, description });
const bool = (description: string): Schema => ({ type: 'boolean', description });
const list = (description: string, items: Schema): Schema => ({
  type: 'array',
  items,
  description,
});
/** One page of a list: its items and, unless the list ends here, the cursor of the next page. */
const pageOf = (description: string, items: Schema): Schema =>
  obj(
    `one page of ${description}`,
    {
      items: list(description, items),
      cursor: {
        type: 'string',
        minLength: 1,
        maxLength: 1024,
        description: 'pass it back for the next page; absent on the last page',
      },
    },
    ['cursor'],
  );
const orNull = (sc: Schema): Schema => ({ anyOf: [sc, { type: 'null' }] });
const key = (d: string) => s.hex32(d);
const bytes = (d: string) => s.hex(d);
const time = (d: string) => int(`${d} (ms since the epoch, block time)`);
const oneOf = (description: string, values: string[]): Schema => ({
  type: 'string',
  enum: values,
  description,
});

const blockFields = {
  height: int('height'),
  hash: key('block hash'),
  header: obj('the signed header', {
    chainId: str('chain id'),
    height: int('height'),
    prevHash: key('previous block hash'),
    term: int('consensus term'),
    proposer: key('proposer node id'),
    time: int('block time (ms since the epoch)'),
    txCount: int('transactions'),
    txRoot: key('Merkle root of the transaction hashes'),
    stateHash: key('state hash after this block'),
  }),
  signature: s.hex('proposer signature'),
  txs: list('transaction hashes, in order', key('transaction hash')),
};

const hospital = obj('a registered hospital', {
  id: s.slug('hospital id'),
  name: str('name'),
  address: str('address'),
  specializations: list('specializations it takes reports for', str('specialization')),
  contact: str('contact'),
  nodes: list('its member nodes', key('node id')),
  encryptionKey: bytes('X25519 public key data keys are wrapped for'),
  active: bool('false once deactivated'),
  registeredAt: time('registered'),
  updatedAt: time('last changed'),
});

const doctor = obj('a registered doctor', {
  key: key('doctor public key'),
  hospital: s.slug('hospital id'),
  name: str('name'),
  specialization: str('specialization'),
  qualification: str('qualification'),
  experience: int('years of experience'),
  contact: str('contact'),
  active: bool('false once deactivated'),
  registeredAt: time('registered'),
});

const recordFields = {
  id: key('record id'),
  kind: oneOf('report or document', ['report', 'document']),
  patient: key('patient key'),
  hospital: orNull(s.slug('report: the hospital it was submitted to')),
  specialization: orNull(str('report: the specialization asked for')),
  report: orNull(key('document: the report it is attached to')),
  status: orNull(oneOf('report status', ['pending', 'prescribed'])),
  payloadHash: key('SHA-256 of the sealed body'),
  payloadSize: int('bytes of the sealed body'),
  patientKey: bytes('the data key wrapped for the patient'),
  submittedAt: time('submitted'),
  pos: str('position on chain (ordering cursor)'),
};
const record = obj('a report or document (metadata; the body through record_get)', recordFields);

const prescription = obj('a prescription (metadata; the body through prescription_get)', {
  id: key('prescription id'),
  record: key('the report it answers'),
  patient: key('patient key'),
  doctor: key('prescribing doctor key'),
  doctorName: str("the prescribing doctor's name"),
  hospital: s.slug('hospital id'),
  payloadHash: key('SHA-256 of the sealed body'),
  payloadSize: int('bytes of the sealed body'),
  patientKey: bytes('the data key wrapped for the patient'),
  hospitalKey: bytes('the data key wrapped for the hospital'),
  writtenAt: time('written'),
  pos: str('position on chain (ordering cursor)'),
});

const proposalFields = {
  id: key('proposal id'),
  action: oneOf('what it does', ['add', 'remove']),
  role: oneOf('to which role', ['admin', 'validator', 'observer']),
  subject: key('the key or node id it is about'),
  proposer: key('the admin who proposed it'),
  reason: orNull(str('why')),
  createdAt: time('proposed'),
  status: oneOf('status', ['open', 'applied', 'failed']),
  approvals: list('admins who approved', key('admin key')),
  decidedAt: orNull(time('applied or failed')),
  failure: orNull(str('why it failed')),
};

const member = obj('a member node', {
  node: key('node id'),
  role: oneOf('role', ['validator', 'observer']),
  since: time('member since'),
});

const served = (what: string, field: string, item: Schema): Schema =>
  obj(`${what} with its sealed body, served under the access rules`, {
    [field]: item,
    body: bytes('the sealed body'),
    wrappedKey: orNull(bytes('the data key wrapped for the reader (patient or hospital)')),
    reason: str('why access was granted (an access reason code)'),
    audit: orNull(key('the audit transaction recording this read (null for the patient)')),
  });

const syncView = obj(
  'the current or last catch-up sync',
  {
    active: bool('a sync runs now'),
    target: int('height fetched up to'),
    targetIndex: int('log index fetched up to'),
    height: int('height applied so far'),
    index: int('log index applied so far'),
    batches: int('batches applied'),
    peers: {
      type: 'object',
      properties: {},
      additionalProperties: int('batches'),
      description: 'batches applied per serving member (node id)',
    },
    refused: {
      type: 'object',
      properties: {},
      additionalProperties: int('batches'),
      description: 'batches refused per serving member (node id)',
    },
    startedAt: int('started (ms since the epoch)'),
    finishedAt: orNull(int('finished (ms since the epoch)')),
    error: orNull(str('why it stopped')),
  },
  [],
);

const final = bool('it can no longer change (see packages/gateway/README.md, statuses)');
const until = time('the deadline: it can commit until then, never after');
const txStatusPending = obj(
  'not in a block yet',
  {
    status: oneOf('status', ['pending']),
    final,
    expires: until,
    canCommitUntil: until,
    replacedBy: key('a later transaction for the same account and nonce took its place here'),
  },
  ['expires', 'canCommitUntil', 'replacedBy'],
);
const txStatusCommitted = obj(
  'in a block',
  {
    status: oneOf('status', ['committed']),
    height: int('block height'),
    index: int('position in the block'),
    ok: bool('false when the ledger refused it (it is kept, with its code; its nonce is used)'),
    code: orNull(str('the refusal code when not ok')),
    message: orNull(str('the refusal message when not ok')),
    final,
    duplicate: bool('true: submitted again after it committed (this is the original)'),
  },
  ['duplicate'],
);
const txStatusRejected = obj(
  'refused before any block',
  {
    status: oneOf('status', ['rejected']),
    code: str('refusal code'),
    message: str('what was wrong'),
    final,
    expires: until,
    canCommitUntil: until,
  },
  ['expires', 'canCommitUntil'],
);
const txStatusExpired = obj(
  'past its deadline without being included',
  {
    status: oneOf('status', ['expired']),
    code: oneOf('code', ['EXPIRED']),
    message: str('what happened'),
    expires: until,
    final,
  },
  [],
);

/** Transaction submission, status and account nonces (deadlines, honest statuses, nonces). */
export const TX_STATUS: Schema = {
  anyOf: [txStatusPending, txStatusCommitted, txStatusRejected, txStatusExpired],
  description: "a transaction's status",
};
export const TX_RESULTS: Record<string, Schema> = {
  tx_submit: obj('what became of the submitted transaction', {
    hash: key('transaction hash'),
    status: TX_STATUS,
  }),
  tx_status: obj("a transaction's status", { hash: key('transaction hash'), status: TX_STATUS }),
  chain_getTx: {
    anyOf: [
      obj('a committed transaction', {
        hash: key('transaction hash'),
        status: txStatusCommitted,
        kind: str('transaction kind'),
        author: key('author key'),
        nonce: int('author nonce'),
      }),
      obj('a transaction this node knows of but has not committed', {
        hash: key('transaction hash'),
        status: { anyOf: [txStatusPending, txStatusRejected, txStatusExpired] },
      }),
    ],
  },
  account_get: obj('an account', {
    key: key('account key'),
    nonce: int('the next nonce by committed state: sign from this'),
    role: orNull(oneOf('role', ['admin', 'doctor', 'patient', 'hospital', 'node'])),
    pending: list(
      "this node's pending transactions of the account (other nodes may hold others)",
      obj('a pending transaction', {
        hash: key('transaction hash'),
        nonce: int('its nonce'),
        expires: until,
      }),
    ),
  }),
};

/** Result schema of every method, by name (a test checks that none is missing). */
export const RESULTS: Record<string, Schema> = {
  ...TX_RESULTS,
  status: obj(
    "this node's view",
    {
      name: str('node name'),
      nodeId: key('node id'),
      chainId: str('chain id'),
      role: str('consensus role (leader, follower, candidate, learner)'),
      term: int('consensus term'),
      leader: orNull(key('the leader node id, if known')),
      height: int('last committed height'),
      hash: key('last block hash'),
      stateHash: key('state hash after the last block'),
      time: int('last block time (ms since the epoch)'),
      catchingUp: bool('behind the network'),
      networkHeight: int('highest height a leader announced (or ours)'),
      commitIndex: int('consensus commit index'),
      sync: orNull(syncView),
      peers: int('connected peers'),
      validators: list('voting members in consensus', key('node id')),
      observers: list('non-voting members in consensus', key('node id')),
      mempool: obj('the mempool', { txs: int('transactions'), bytes: int('bytes') }),
      halted: orNull(str('why the node stopped applying blocks')),
      loop: obj('the consensus loop', {
        stage: str('what it does now'),
        busyMs: int('for how long'),
        inflightBlocks: int('proposed blocks not yet committed'),
        paused: bool('held by catch-up sync'),
      }),
      log: obj('the consensus log on disk', {
        compactedIndex: int('entries at or below it were compacted (served from blocks)'),
        firstIndex: int('first index the log holds'),
        lastIndex: int('last index the log holds'),
        durableHeight: int('height the block store last made durable'),
      }),
      scrub: obj('the background scrubber (full re-verification of the store)', {
        enabled: bool('scrubbing is on'),
        round: int('rounds started since the node started'),
        phase: str('idle, blocks, state, payloads or failed'),
        height: int('last block verified in this round'),
        target: int('head height when the round began'),
        bytes: int('bytes read in this round'),
        progress: {
          type: 'number',
          minimum: 0,
          maximum: 1,
          description: 'share of the round done',
        },
        lastRoundMs: orNull(int('length of the last completed round, ms')),
        lastCompletedAt: orNull(int('when the last round completed (ms since the epoch)')),
        failed: orNull(str('what the scrubber found wrong (the node halts)')),
      }),
    },
    ['sync', 'scrub'],
  ),
  chain_config: obj("the chain's constants", {
    chainId: str('chain id'),
    genesisHash: key('genesis hash'),
    threshold: {
      anyOf: [{ type: 'integer', minimum: 1 }, oneOf('majority of admins', ['majority'])],
      description: 'approvals a governance proposal needs',
    },
    limits: obj('limits, the same at every layer', {
      maxTxBytes: int('bytes per transaction'),
      maxPayloadBytes: int('bytes per sealed body'),
      maxDocumentBytes: int('bytes per document body'),
      maxTxsPerBlock: int('transactions per block'),
      maxBlockBytes: int('bytes per block'),
      maxListItems: int('items per list'),
      maxWrappedKeyBytes: int('bytes per wrapped key'),
    }),
  }),
  chain_getBlock: obj('a block', {
    ...blockFields,
    raw: s.hex('the encoded block'),
  }),
  chain_blocks: pageOf(
    "blocks, newest first: each block's header (its transactions: chain_getBlock)",
    obj('a block header', {
      height: blockFields.height,
      hash: blockFields.hash,
      header: blockFields.header,
    }),
  ),
  chain_getProof: obj('a Merkle inclusion proof', {
    height: int('block height'),
    index: int('position in the block'),
    count: int('transactions in the block'),
    txRoot: key("the block's txRoot"),
    proof: list('sibling hashes, leaf to root', key('hash')),
  }),
  hospital_list: pageOf('hospitals', hospital),
  hospital_get: hospital,
  doctor_list: pageOf('doctors', doctor),
  doctor_get: doctor,
  gov_proposals: pageOf('proposals, newest first', obj('a proposal', proposalFields)),
  gov_proposal: obj('a proposal with its votes', {
    ...proposalFields,
    votes: list(
      'approvals as recorded',
      obj('a vote', {
        proposal: key('proposal id'),
        admin: key('admin key'),
        at: time('voted'),
        height: int('block height'),
      }),
    ),
  }),
  gov_validators: obj('validators', {
    onChain: list('validators on the member list', key('node id')),
    voters: list('voters in consensus', key('node id')),
    learners: list('learners in consensus', key('node id')),
  }),
  gov_members: obj('members and admins', {
    members: list('member nodes', member),
    admins: list('admins', obj('an admin', { key: key('admin key'), since: time('admin since') })),
  }),
  patient_reports: pageOf('reports', record),
  patient_documents: pageOf('documents', record),
  patient_prescriptions: pageOf('prescriptions', prescription),
  patient_consents: pageOf(
    'consents',
    obj('a consent', {
      patient: key('patient key'),
      hospital: s.slug('hospital id'),
      scope: {
        anyOf: [oneOf('everything', ['all']), list('record ids', str('record id'))],
        description: 'what it covers',
      },
      grantedAt: time('granted'),
      expiresAt: orNull(time('expires')),
      revokedAt: orNull(time('revoked')),
      inForce: bool('neither revoked nor expired now'),
    }),
  ),
  patient_audit: pageOf(
    'recorded reads, oldest first',
    obj('a recorded read', {
      id: key('audit event id'),
      node: key('the node that served the read'),
      reader: key('reader key'),
      target: key('what was read (record, prescription or patient)'),
      patient: key('patient key'),
      purpose: str('why: an HL7 PurposeOfUse code (free text only in reads recorded before codes)'),
      readAt: int('read (ms since the epoch, serving node clock)'),
      recordedAt: time('recorded'),
      pos: str('position on chain (ordering cursor)'),
      readerName: orNull(str("the reader's name when a doctor ('you' for the patient)")),
      readerHospital: orNull(s.slug("the reader's hospital when a doctor")),
    }),
  ),
  doctor_patients: pageOf(
    "a doctor's patients",
    obj('a patient', {
      patient: key('patient key'),
      reasons: list(
        'why the doctor sees them',
        oneOf('reason', ['PENDING_REPORT', 'PRESCRIBER', 'CONSENT']),
      ),
      reports: int('reports the doctor may read'),
    }),
  ),
  doctor_reports: pageOf(
    'reports the doctor may read',
    obj('a report', {
      ...recordFields,
      access: oneOf('why the doctor may read it', ['PENDING_REPORT', 'PRESCRIBER', 'CONSENT']),
    }),
  ),
  record_documents: pageOf('documents of the report', record),
  record_get: served('a report or document', 'record', record),
  prescription_get: served('a prescription', 'prescription', prescription),
  patient_profile: served("a patient's profile", 'patient', key('patient key')),
  node_peers: list(
    'connected peers',
    obj('a peer', {
      nodeId: key('node id'),
      addresses: list('connection addresses', str('multiaddr')),
    }),
  ),
  node_metrics: obj('metrics', {
    summary: obj('headline numbers', {
      height: int('last committed height'),
      term: int('consensus term'),
      leader: bool('this node leads'),
      peers: int('connected peers'),
      mempool: obj('the mempool', { txs: int('transactions'), bytes: int('bytes') }),
      committedTxs: int('transactions committed since start'),
      commitLatencyMs: obj('admission to commit on this node', {
        observations: int('samples'),
        p50: orNull(int('median, ms (bucket bound)')),
        p99: orNull(int('99th percentile, ms (bucket bound)')),
      }),
      sync: obj('catch-up sync', {
        catchingUp: bool('a sync runs'),
        progress: { type: 'number', minimum: 0, maximum: 1, description: 'share applied' },
      }),
    }),
    text: str('the Prometheus text exposition'),
  }),
  subscribe: { type: 'string', minLength: 1, description: 'subscription id' },
  unsubscribe: bool('whether a subscription was removed'),
  'rpc.discover': {
    type: 'object',
    description: 'an OpenRPC 1.2 document',
    properties: {
      openrpc: str('OpenRPC version'),
      info: { type: 'object', properties: { title: str('title'), version: str('version') } },
      methods: list('methods', {
        type: 'object',
        properties: { name: str('method name') },
        required: ['name'],
      }),
      components: { type: 'object', properties: {} },
    },
    required: ['openrpc', 'info', 'methods'],
  },
};

/** The result schema of a method (`{}`, anything, for a name the catalogue does not know). */
export function resultSchema(name: string): Schema | Record<string, never> {
  return Object.hasOwn(RESULTS, name) ? RESULTS[name]! : {};
}
