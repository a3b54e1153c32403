/** `ehr patient`: sign up, submit reports and documents, share and revoke, read what is yours. */
import { readFileSync } from 'node:fs';
import { consentInForce } from '@ehr/api';
import { isPurposeCode, PURPOSES } from '@ehr/core';
import type { Command } from 'commander';
import { contentArg, contentJson, contentText, fileContent, saveContent } from '../content.ts';
import { type Ctx, timeArg } from '../context.ts';
import { usage } from '../errors.ts';
import { fields, short, table, when } from '../output.ts';
import { listItems, type PageFlags, pagingOptions } from '../paging.ts';
import { txLine } from './tx-output.ts';

const example = (lines: string) => `\nExample:\n${lines}\n`;

function profileArg(o: { name?: string; born?: string; profile?: string }): unknown {
  if (o.profile) {
    try {
      return JSON.parse(readFileSync(o.profile, 'utf8'));
    } catch (err) {
      throw usage(`--profile ${o.profile}: ${(err as Error).message}`);
    }
  }
  if (!o.name) throw usage('give your --name (and --born), or a JSON --profile file');
  return { name: o.name, ...(o.born ? { born: o.born } : {}) };
}

export function registerPatient(program: Command, ctx: Ctx): void {
  const patient = program
    .command('patient')
    .description(
      'patients: your reports, who may read them, prescriptions and the audit trail (signs with --key)',
    );

  patient
    .command('register')
    .description('sign up with a profile sealed for you alone')
    .option('--name <name>', 'your name')
    .option('--born <date>', 'date of birth')
    .option('--profile <json-file>', 'the whole profile as a JSON file instead')
    .addHelpText(
      'after',
      example(
        '  ehr keys new alice.key.json --passphrase-env EHR_PASS\n  ehr patient register --key alice.key.json --passphrase-env EHR_PASS --name "Alice Doe" --born 1990-04-01',
      ),
    )
    .action(async (o: { name?: string; born?: string; profile?: string }) => {
      const profile = profileArg(o);
      const client = ctx.client();
      const tx = await client.patient.register(profile);
      ctx.print(
        { ...tx, patient: client.key },
        () => `${txLine(tx, 'registered')}\nyour patient id ${client.key}`,
      );
    });

  patient
    .command('profile')
    .description('open your profile')
    .addHelpText('after', example('  ehr patient profile --key alice.key.json'))
    .action(async () => {
      const r = await ctx.client().patient.profile();
      ctx.print({ patient: r.item.patient, content: contentJson(r.content) }, () =>
        contentText(r.content),
      );
    });

  patient
    .command('hospitals')
    .description('hospitals to choose from, and whether you share with each')
    .addHelpText('after', example('  ehr patient hospitals --key alice.key.json'))
    .action(async () => {
      const list = await ctx.client().patient.hospitalChoices();
      ctx.print(list, () =>
        table(
          ['id', 'name', 'specializations', 'shared'],
          list
            .filter((h) => h.active)
            .map((h) => [
              h.id,
              h.name,
              h.specializations.join(','),
              !h.consent
                ? 'no'
                : consentInForce(h.consent)
                  ? h.consent.expiresAt
                    ? `yes, until ${when(h.consent.expiresAt)}`
                    : 'yes'
                  : h.consent.revokedAt
                    ? 'revoked'
                    : 'expired',
            ]),
          '(no hospitals registered yet)',
        ),
      );
    });

  const report = patient.command('report').description('health reports');
  report
    .command('submit')
    .description("submit a report (text or a file) for a hospital's doctors of one specialization")
    .requiredOption('--hospital <id>', 'hospital id (ehr patient hospitals)')
    .requiredOption('--specialization <slug>', 'which doctors should see it')
    .option('--text <text>', 'what happened, in words')
    .option('--file <path>', 'a file (PDF, image, …) instead')
    .addHelpText(
      'after',
      example(
        '  ehr patient report submit --key alice.key.json --hospital city-general \\\n    --specialization cardiology --text "chest pain since Monday"',
      ),
    )
    .action(
      async (o: { hospital: string; specialization: string; text?: string; file?: string }) => {
        const content = contentArg(o);
        const r = await ctx.client().patient.submitReport({
          content,
          hospital: o.hospital,
          specialization: o.specialization,
        });
        ctx.print(r, () => `${txLine(r, 'report submitted')}\nreport id ${r.hash}`);
      },
    );
  report
    .command('show')
    .description('open one of your reports or documents')
    .argument('<id>', 'record id')
    .option('--out <file>', 'save the content to this new file')
    .addHelpText('after', example('  ehr patient report show 9c0f…41 --out scan.pdf'))
    .action(async (id: string, o: { out?: string }) => {
      const r = await ctx.client().patient.readRecord(id);
      const saved = o.out ? saveContent(r.content, o.out) : undefined;
      ctx.print({ record: r.item, content: contentJson(r.content, saved) }, () =>
        contentText(r.content, saved),
      );
    });

  patient
    .command('document')
    .description('documents: scans, earlier receipts, lab results')
    .command('attach')
    .description('attach a file, to one of your reports or on its own')
    .requiredOption('--file <path>', 'the file')
    .option('--report <id>', 'the report it belongs to')
    .addHelpText(
      'after',
      example('  ehr patient document attach --key alice.key.json --file ecg.pdf --report 9c0f…41'),
    )
    .action(async (o: { file: string; report?: string }) => {
      const r = await ctx.client().patient.attachDocument({
        content: fileContent(o.file),
        ...(o.report ? { report: o.report } : {}),
      });
      ctx.print(r, () => `${txLine(r, 'document attached')}\ndocument id ${r.hash}`);
    });

  patient
    .command('share')
    .description(
      "let a hospital's doctors read all your records (keys re-wrapped here for the hospital)",
    )
    .requiredOption('--hospital <id>', 'hospital id')
    .option('--expires <when>', 'until a date (2026-12-31) or for a duration (90d, 12h)')
    .addHelpText(
      'after',
      example('  ehr patient share --key alice.key.json --hospital city-general --expires 90d'),
    )
    .action(async (o: { hospital: string; expires?: string }) => {
      const expiresAt = o.expires === undefined ? undefined : timeArg(o.expires, '--expires');
      const r = await ctx
        .client()
        .patient.share({ hospital: o.hospital, ...(expiresAt !== undefined ? { expiresAt } : {}) });
      ctx.print(r, () =>
        [
          `shared with ${r.hospital}${r.expiresAt ? ` until ${when(r.expiresAt)}` : ''}: ${r.keysShared} data keys wrapped for the hospital`,
          ...r.txs.map((t) => txLine(t, 'consent')),
        ].join('\n'),
      );
    });

  patient
    .command('revoke')
    .description("stop a hospital's doctors reading your records")
    .requiredOption('--hospital <id>', 'hospital id')
    .addHelpText(
      'after',
      example('  ehr patient revoke --key alice.key.json --hospital city-general'),
    )
    .action(async (o: { hospital: string }) => {
      const tx = await ctx.client().patient.revoke(o.hospital);
      ctx.print({ ...tx, hospital: o.hospital }, () =>
        txLine(tx, `consent for ${o.hospital} revoked`),
      );
    });

  pagingOptions(
    patient.command('consents').description('your consents: in force, expired or revoked'),
  )
    .addHelpText('after', example('  ehr patient consents --key alice.key.json --json'))
    .action(async (o: PageFlags) => {
      const c = ctx.client();
      const list = await listItems<Awaited<ReturnType<typeof c.patient.consents>>[number]>(
        c.session,
        'patient_consents',
        { patient: c.key },
        true,
        o,
        'ehr patient consents',
      );
      ctx.print(list, () =>
        table(
          ['hospital', 'scope', 'granted', 'expires', 'revoked', 'in force'],
          list.map((c) => [
            c.hospital,
            c.scope === 'all' ? 'all' : `${c.scope.length} items`,
            when(c.grantedAt),
            when(c.expiresAt),
            when(c.revokedAt),
            consentInForce(c) ? 'yes' : 'no',
          ]),
          '(no consents)',
        ),
      );
    });

  patient
    .command('reports')
    .description('your reports with their status and attached documents')
    .addHelpText('after', example('  ehr patient reports --key alice.key.json'))
    .action(async () => {
      const list = await ctx.client().patient.reports();
      ctx.print(list, () =>
        table(
          ['id', 'hospital', 'specialization', 'status', 'documents', 'submitted'],
          list.map((r) => [
            r.id,
            r.hospital,
            r.specialization,
            r.status,
            r.documents.length,
            when(r.submittedAt),
          ]),
          '(no reports yet: ehr patient report submit)',
        ),
      );
    });

  patient
    .command('prescriptions')
    .description('prescriptions written for you, opened, with the doctor who wrote them')
    .addHelpText('after', example('  ehr patient prescriptions --key alice.key.json'))
    .action(async () => {
      const list = await ctx.client().patient.prescriptions();
      ctx.print(
        list.map(({ content, ...p }) => ({ ...p, content: content ? contentJson(content) : null })),
        () =>
          list.length === 0
            ? '(no prescriptions yet)'
            : list
                .map((p) =>
                  [
                    fields([
                      ['prescription', p.id],
                      ['for report', p.record],
                      ['by', `${p.doctorName} (${p.hospital})`],
                      ['written', when(p.writtenAt)],
                    ]),
                    p.content ? contentText(p.content) : `(cannot open: ${p.error})`,
                  ].join('\n'),
                )
                .join('\n\n'),
      );
    });

  pagingOptions(patient.command('audit').description('who read your data, when, and why'))
    .addHelpText('after', example('  ehr patient audit --key alice.key.json --limit 20'))
    .action(async (o: PageFlags) => {
      const c = ctx.client();
      const list = await listItems<Awaited<ReturnType<typeof c.patient.audit>>[number]>(
        c.session,
        'patient_audit',
        { patient: c.key },
        true,
        o,
        'ehr patient audit',
      );
      ctx.print(list, () =>
        table(
          ['read at', 'reader', 'hospital', 'what', 'purpose', 'served by'],
          list.map((e) => [
            when(e.readAt),
            e.readerName ?? short(e.reader),
            e.readerHospital,
            short(e.target),
            isPurposeCode(e.purpose) ? `${PURPOSES[e.purpose]} (${e.purpose})` : e.purpose,
            short(e.node),
          ]),
          '(nobody has read your data)',
        ),
      );
    });
}
