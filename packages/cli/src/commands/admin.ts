/** `ehr admin`: hospitals, doctors and governance (membership proposals and approvals). */
import type { Directory, EhrClient, ProposalInfo } from '@ehr/api';
import type { Command } from 'commander';
import { type Ctx, intArg, publicKeyArg } from '../context.ts';
import { usage } from '../errors.ts';
import { fields, short, table, when } from '../output.ts';
import { listItems, type PageFlags, pagingOptions } from '../paging.ts';
import { txLine } from './tx-output.ts';

const example = (lines: string) => `\nExample:\n${lines}\n`;
const ACTIONS = ['add', 'remove'] as const;
const ROLES = ['admin', 'validator', 'observer'] as const;

function proposalText(p: ProposalInfo | null): string {
  if (!p) return '';
  return fields([
    ['proposal', p.id],
    ['change', `${p.action} ${p.role} ${p.subject}`],
    ['status', `${p.status}${p.failure ? ` (${p.failure})` : ''}`],
    ['approvals', `${p.approvals.length}: ${p.approvals.map((a) => short(a)).join(', ')}`],
  ]);
}

async function propose(
  ctx: Ctx,
  client: EhrClient,
  action: (typeof ACTIONS)[number],
  role: (typeof ROLES)[number],
  subject: string,
  reason?: string,
) {
  const r = await client.admin.propose({ action, role, subject, ...(reason ? { reason } : {}) });
  ctx.print(r, () =>
    [
      txLine(r.tx, `proposal to ${action} ${role} ${short(subject)}`),
      proposalText(r.proposal),
      r.proposal?.status === 'open'
        ? `\nOther admins approve with: ehr admin approve ${r.tx.hash}`
        : '',
    ]
      .filter(Boolean)
      .join('\n'),
  );
}

async function approve(ctx: Ctx, id: string) {
  const r = await ctx.client().admin.approve(id);
  ctx.print(r, () =>
    [txLine(r.tx, `approval of ${short(id)}`), proposalText(r.proposal)].join('\n'),
  );
}

function proposalsTable(list: ProposalInfo[]): string {
  return table(
    ['id', 'change', 'status', 'approvals', 'created'],
    list.map((p) => [
      p.id,
      `${p.action} ${p.role} ${short(p.subject)}`,
      p.status,
      p.approvals.length,
      when(p.createdAt),
    ]),
    '(no proposals)',
  );
}

export function registerAdmin(program: Command, ctx: Ctx): void {
  const admin = program
    .command('admin')
    .description('admins: hospitals, doctors, validators and other members (signs with --key)');

  const hospital = admin.command('hospital').description('the hospital registry');
  hospital
    .command('add')
    .description(
      "register a hospital with its specializations and its encryption key's public half",
    )
    .requiredOption('--id <slug>', 'short id, e.g. city-general')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--specialization <slug...>', 'specializations offered')
    .requiredOption(
      '--encryption-key <hex|keyfile>',
      "the hospital's encryption public key (its secret stays with the hospital)",
    )
    .option('--address <text>', 'postal address', '')
    .option('--contact <text>', 'phone or e-mail', '')
    .option('--node <hex|keyfile...>', "the hospital's node keys", [])
    .addHelpText(
      'after',
      example(
        '  ehr keys new city.enc.json --passphrase-env CITY_PASS   # at the hospital\n  ehr admin hospital add --key admin.key.json --id city-general --name "City General" \\\n    --specialization cardiology dermatology --encryption-key city.enc.json',
      ),
    )
    .action(
      async (o: {
        id: string;
        name: string;
        specialization: string[];
        encryptionKey: string;
        address: string;
        contact: string;
        node: string[];
      }) => {
        const tx = await ctx.client().admin.addHospital({
          id: o.id,
          name: o.name,
          specializations: o.specialization,
          encryptionKey: publicKeyArg(o.encryptionKey, '--encryption-key'),
          address: o.address,
          contact: o.contact,
          nodes: o.node.map((n) => publicKeyArg(n, '--node')),
        });
        ctx.print({ ...tx, id: o.id }, () => txLine(tx, `hospital ${o.id}`));
      },
    );
  pagingOptions(hospital.command('list').description('registered hospitals'))
    .addHelpText('after', example('  ehr admin hospital list --all --json'))
    .action(async (o: PageFlags) => {
      const list = await listItems<Awaited<ReturnType<Directory['hospitals']>>[number]>(
        ctx.publicSession(),
        'hospital_list',
        {},
        false,
        o,
        'ehr admin hospital list',
      );
      ctx.print(list, () =>
        table(
          ['id', 'name', 'specializations', 'active', 'registered'],
          list.map((h) => [
            h.id,
            h.name,
            h.specializations.join(','),
            h.active ? 'yes' : 'no',
            when(h.registeredAt),
          ]),
          '(no hospitals yet: ehr admin hospital add)',
        ),
      );
    });
  hospital
    .command('show')
    .description('one hospital and its doctors')
    .argument('<id>')
    .addHelpText('after', example('  ehr admin hospital show city-general'))
    .action(async (id: string) => {
      const dir = ctx.directory();
      const [h, doctors] = await Promise.all([dir.hospital(id), dir.doctors(id)]);
      ctx.print({ ...h, doctors }, () =>
        [
          fields([
            ['id', h.id],
            ['name', h.name],
            ['address', h.address],
            ['contact', h.contact],
            ['specializations', h.specializations.join(', ')],
            ['encryption key', h.encryptionKey],
            ['nodes', h.nodes.join(', ') || '-'],
            ['active', h.active ? 'yes' : 'no'],
            ['registered', when(h.registeredAt)],
          ]),
          '',
          table(
            ['doctor', 'name', 'specialization', 'active'],
            doctors.map((d) => [d.key, d.name, d.specialization, d.active ? 'yes' : 'no']),
            '(no doctors)',
          ),
        ].join('\n'),
      );
    });
  hospital
    .command('deactivate')
    .description('stop a hospital taking reports and consents; its doctors read nothing')
    .argument('<id>')
    .addHelpText(
      'after',
      example('  ehr admin hospital deactivate river-clinic --key admin.key.json'),
    )
    .action(async (id: string) => {
      const tx = await ctx.client().admin.deactivateHospital(id);
      ctx.print(tx, () => txLine(tx, `hospital ${id} deactivated`));
    });

  const doctor = admin.command('doctor').description('doctors at hospitals');
  doctor
    .command('add')
    .description('register a doctor (their account key) at a hospital, for one specialization')
    .requiredOption('--doctor <hex|keyfile>', "the doctor's public key")
    .requiredOption('--hospital <id>', 'hospital id')
    .requiredOption('--name <name>', 'display name, shown to patients')
    .requiredOption('--specialization <slug>', 'one the hospital offers')
    .option('--qualification <text>', 'e.g. MD, FRCP', '')
    .option('--experience <years>', 'years of experience', '0')
    .option('--contact <text>', 'phone or e-mail', '')
    .addHelpText(
      'after',
      example(
        '  ehr admin doctor add --key admin.key.json --doctor 5be1…0c --hospital city-general \\\n    --name "Dr. Heart" --specialization cardiology --experience 12',
      ),
    )
    .action(
      async (o: {
        doctor: string;
        hospital: string;
        name: string;
        specialization: string;
        qualification: string;
        experience: string;
        contact: string;
      }) => {
        const key = publicKeyArg(o.doctor, '--doctor');
        const tx = await ctx.client().admin.addDoctor({
          key,
          hospital: o.hospital,
          name: o.name,
          specialization: o.specialization,
          qualification: o.qualification,
          experience: intArg(o.experience, '--experience', 0, 100),
          contact: o.contact,
        });
        ctx.print({ ...tx, doctor: key }, () => txLine(tx, `doctor ${o.name}`));
      },
    );
  doctor
    .command('list')
    .description('doctors of one hospital, or of every hospital')
    .option('--hospital <id>', 'only this hospital')
    .addHelpText('after', example('  ehr admin doctor list --hospital city-general'))
    .action(async (o: { hospital?: string }) => {
      const dir = ctx.directory();
      const ids = o.hospital ? [o.hospital] : (await dir.hospitals()).map((h) => h.id);
      const list = (await Promise.all(ids.map((id) => dir.doctors(id)))).flat();
      ctx.print(list, () =>
        table(
          ['doctor', 'name', 'hospital', 'specialization', 'experience', 'active'],
          list.map((d) => [
            d.key,
            d.name,
            d.hospital,
            d.specialization,
            d.experience,
            d.active ? 'yes' : 'no',
          ]),
          '(no doctors)',
        ),
      );
    });
  doctor
    .command('deactivate')
    .description('the doctor reads and prescribes nothing from now on')
    .argument('<hex|keyfile>', "the doctor's public key")
    .addHelpText('after', example('  ehr admin doctor deactivate 5be1…0c --key admin.key.json'))
    .action(async (k: string) => {
      const tx = await ctx.client().admin.deactivateDoctor(publicKeyArg(k, 'doctor'));
      ctx.print(tx, () => txLine(tx, 'doctor deactivated'));
    });

  const validator = admin.command('validator').description('validator nodes (consensus members)');
  validator
    .command('propose')
    .description(
      'propose adding (or --remove) a validator node; applies when enough admins approve',
    )
    .argument('<hex|keyfile>', "the node's key (ehr node init prints it)")
    .option('--remove', 'propose removing it instead')
    .option('--reason <text>', 'why (kept on chain)')
    .addHelpText(
      'after',
      example('  ehr admin validator propose node6/node.key.json --reason "river clinic node"'),
    )
    .action(async (k: string, o: { remove?: boolean; reason?: string }) => {
      await propose(
        ctx,
        ctx.client(),
        o.remove ? 'remove' : 'add',
        'validator',
        publicKeyArg(k, 'node key'),
        o.reason,
      );
    });
  validator
    .command('approve')
    .description('approve an open proposal')
    .argument('<proposal>', 'proposal id (the proposing transaction hash)')
    .addHelpText('after', example('  ehr admin validator approve 7d1c…a2 --key admin2.key.json'))
    .action(async (id: string) => approve(ctx, id));
  validator
    .command('list')
    .description('validators on chain, and voters and learners in consensus')
    .addHelpText('after', example('  ehr admin validator list --json'))
    .action(async () => {
      const v = await ctx.directory().validators();
      const all = [...new Set([...v.onChain, ...v.voters, ...v.learners])];
      ctx.print(v, () =>
        table(
          ['node', 'on chain', 'consensus'],
          all.map((n) => [
            n,
            v.onChain.includes(n) ? 'validator' : 'no',
            v.voters.includes(n) ? 'voter' : v.learners.includes(n) ? 'learner' : '-',
          ]),
        ),
      );
    });

  admin
    .command('propose')
    .description('propose adding or removing an admin, validator or observer')
    .argument('<action>', 'add or remove')
    .argument('<role>', 'admin, validator or observer')
    .argument('<hex|keyfile>', 'the subject key')
    .option('--reason <text>', 'why (kept on chain)')
    .addHelpText(
      'after',
      example('  ehr admin propose add admin bob.key.json --reason "second admin"'),
    )
    .action(async (action: string, role: string, k: string, o: { reason?: string }) => {
      if (!(ACTIONS as readonly string[]).includes(action))
        throw usage(`action: expected add or remove, got "${action}"`);
      if (!(ROLES as readonly string[]).includes(role))
        throw usage(`role: expected admin, validator or observer, got "${role}"`);
      await propose(
        ctx,
        ctx.client(),
        action as (typeof ACTIONS)[number],
        role as (typeof ROLES)[number],
        publicKeyArg(k, 'subject'),
        o.reason,
      );
    });
  admin
    .command('approve')
    .description('approve an open proposal')
    .argument('<proposal>', 'proposal id')
    .addHelpText('after', example('  ehr admin approve 7d1c…a2 --key admin2.key.json'))
    .action(async (id: string) => approve(ctx, id));
  pagingOptions(admin.command('proposals').description('governance proposals, newest first'))
    .option('--status <status>', 'open, applied or failed')
    .addHelpText('after', example('  ehr admin proposals --status open'))
    .action(async (o: { status?: string } & PageFlags) => {
      if (o.status && !['open', 'applied', 'failed'].includes(o.status)) {
        throw usage(`--status: expected open, applied or failed, got "${o.status}"`);
      }
      const list = await listItems<ProposalInfo>(
        ctx.publicSession(),
        'gov_proposals',
        o.status ? { status: o.status } : {},
        false,
        o,
        'ehr admin proposals',
      );
      ctx.print(list, () => proposalsTable(list));
    });
  admin
    .command('members')
    .description('member nodes (validators, observers) and admins')
    .addHelpText('after', example('  ehr admin members --json'))
    .action(async () => {
      const m = await ctx.directory().members();
      ctx.print(m, () =>
        table(
          ['key', 'role', 'since'],
          [
            ...m.admins.map((a) => [a.key, 'admin', when(a.since)]),
            ...m.members.map((x) => [x.node, x.role, when(x.since)]),
          ],
        ),
      );
    });
}
