/** `ehr doctor`: your patients and reports, open a report, write a prescription. */
import {
  type DoctorAccess,
  isPurposeCode,
  PURPOSE_CODES,
  PURPOSES,
  type PurposeCode,
  parsePurpose,
} from '@ehr/core';
import { type Command, InvalidArgumentError } from 'commander';
import { contentArg, contentJson, contentText, saveContent } from '../content.ts';
import type { Ctx } from '../context.ts';
import { fields, short, table, when } from '../output.ts';
import { listItems, type PageFlags, pagingOptions } from '../paging.ts';
import { txLine } from './tx-output.ts';

export const PURPOSE_HELP = `why you read it, recorded on chain as an HL7 PurposeOfUse code: ${PURPOSE_CODES.map((c) => `${c} (${PURPOSES[c]})`).join(', ')}`;

/** A purpose code from what was typed (the code or its words); anything else is refused. */
export function purposeArg(v: string): PurposeCode {
  const code = parsePurpose(v);
  if (code === undefined || !isPurposeCode(code)) {
    throw new InvalidArgumentError(
      `"${v}" is not a purpose of use; use one of ${PURPOSE_CODES.join(', ')} (or its words, e.g. treatment); free text is not recorded, since the audit trail is public to every node`,
    );
  }
  return code;
}

const example = (lines: string) => `\nExample:\n${lines}\n`;

/** Why a doctor sees a report (the access rule), in the reports table and the patients table. */
const ACCESS: Record<DoctorAccess, string> = {
  PENDING_REPORT: 'pending',
  PRESCRIBER: 'prescribed by you',
  CONSENT: 'shared',
};
const WHY: Record<DoctorAccess, string> = { ...ACCESS, PENDING_REPORT: 'pending report' };

export interface HospitalKeyOptions {
  hospitalKey?: string;
  hospitalPassphraseEnv?: string;
}

/** Reading bodies needs the hospital's encryption key, which the hospital gives its doctors. */
export function withHospitalKey(cmd: Command): Command {
  return cmd
    .option('--hospital-key <file>', "your hospital's encryption key file (or EHR_HOSPITAL_KEY)")
    .option('--hospital-passphrase-env <var>', 'environment variable holding its passphrase');
}

export function hospitalKeyOpts(o: HospitalKeyOptions) {
  const hospitalKey = o.hospitalKey ?? process.env['EHR_HOSPITAL_KEY'];
  return {
    ...(hospitalKey ? { hospitalKey } : {}),
    ...(o.hospitalPassphraseEnv ? { hospitalPassphraseEnv: o.hospitalPassphraseEnv } : {}),
  };
}

export function registerDoctor(program: Command, ctx: Ctx): void {
  const doctor = program
    .command('doctor')
    .description(
      'doctors: reports shared with you, reading them, prescriptions (signs with --key)',
    );

  doctor
    .command('me')
    .description('your registration: hospital, specialization, active')
    .addHelpText('after', example('  ehr doctor me --key heart.key.json'))
    .action(async () => {
      const d = await ctx.client().doctor.me();
      ctx.print(d, () =>
        fields([
          ['doctor', d.key],
          ['name', d.name],
          ['hospital', d.hospital],
          ['specialization', d.specialization],
          ['active', d.active ? 'yes' : 'no'],
        ]),
      );
    });

  pagingOptions(
    doctor
      .command('patients')
      .description(
        'patients with a report you may read, or sharing their profile with your hospital',
      ),
  )
    .addHelpText('after', example('  ehr doctor patients --key heart.key.json --limit 50'))
    .action(async (o: PageFlags) => {
      const c = ctx.client();
      const list = await listItems<{ patient: string; reasons: string[]; reports: number }>(
        c.session,
        'doctor_patients',
        { doctor: c.key },
        true,
        o,
        'ehr doctor patients',
      );
      ctx.print(list, () =>
        table(
          ['patient', 'why', 'reports'],
          list.map((p) => [
            p.patient,
            p.reasons.map((r) => WHY[r as keyof typeof WHY]).join(', '),
            p.reports,
          ]),
          '(no patients)',
        ),
      );
    });

  pagingOptions(
    doctor
      .command('reports')
      .description(
        'reports you may read: pending for your specialization, prescribed on by you, or shared with your hospital',
      ),
  )
    .addHelpText('after', example('  ehr doctor reports --key heart.key.json --all --json'))
    .action(async (o: PageFlags) => {
      const c = ctx.client();
      const list = await listItems<Awaited<ReturnType<typeof c.doctor.reports>>[number]>(
        c.session,
        'doctor_reports',
        { doctor: c.key },
        true,
        o,
        'ehr doctor reports',
      );
      ctx.print(list, () =>
        table(
          ['id', 'patient', 'specialization', 'status', 'access', 'submitted'],
          list.map((r) => [
            r.id,
            short(r.patient),
            r.specialization,
            r.status,
            r.access ? ACCESS[r.access] : '',
            when(r.submittedAt),
          ]),
          '(no reports for you)',
        ),
      );
    });

  withHospitalKey(
    doctor
      .command('report')
      .description('one report')
      .command('show')
      .description(
        "open a report or document with your hospital's key (the read is recorded on chain)",
      )
      .argument('<id>', 'record id')
      .option('--purpose <code>', PURPOSE_HELP, purposeArg, 'TREAT')
      .option('--out <file>', 'save the content to this new file'),
  )
    .addHelpText(
      'after',
      example(
        '  ehr doctor report show 9c0f…41 --key heart.key.json --hospital-key city.enc.json --purpose treatment',
      ),
    )
    .action(async (id: string, o: HospitalKeyOptions & { purpose: PurposeCode; out?: string }) => {
      const r = await ctx.client(hospitalKeyOpts(o)).doctor.readReport(id, o.purpose);
      const saved = o.out ? saveContent(r.content, o.out) : undefined;
      ctx.print(
        {
          record: r.item,
          reason: r.reason,
          audit: r.audit,
          content: contentJson(r.content, saved),
        },
        () =>
          [
            fields([
              ['record', r.item.id],
              ['patient', r.item.patient],
              ['kind', r.item.kind],
              ['specialization', r.item.specialization],
              ['status', r.item.status],
              ['submitted', when(r.item.submittedAt)],
              ['access', r.reason],
            ]),
            '',
            contentText(r.content, saved),
          ].join('\n'),
      );
    });

  withHospitalKey(
    doctor
      .command('profile')
      .description("open a patient's profile, if they shared it with your hospital")
      .argument('<patient>', 'patient key')
      .option('--purpose <code>', PURPOSE_HELP, purposeArg, 'TREAT'),
  )
    .addHelpText(
      'after',
      example('  ehr doctor profile 5be1…0c --key heart.key.json --hospital-key city.enc.json'),
    )
    .action(async (patient: string, o: HospitalKeyOptions & { purpose: PurposeCode }) => {
      const r = await ctx.client(hospitalKeyOpts(o)).doctor.readProfile(patient, o.purpose);
      ctx.print({ patient, reason: r.reason, content: contentJson(r.content) }, () =>
        contentText(r.content),
      );
    });

  withHospitalKey(
    doctor
      .command('prescription')
      .description('prescriptions')
      .command('show')
      .description('open a prescription you wrote (or one your hospital may read)')
      .argument('<id>', 'prescription id')
      .option('--purpose <code>', PURPOSE_HELP, purposeArg, 'TREAT'),
  )
    .addHelpText(
      'after',
      example(
        '  ehr doctor prescription show 53a1…9e --key heart.key.json --hospital-key city.enc.json',
      ),
    )
    .action(async (id: string, o: HospitalKeyOptions & { purpose: PurposeCode }) => {
      const r = await ctx.client(hospitalKeyOpts(o)).doctor.readPrescription(id, o.purpose);
      ctx.print(
        { prescription: r.item, reason: r.reason, audit: r.audit, content: contentJson(r.content) },
        () =>
          [
            fields([
              ['prescription', r.item.id],
              ['for report', r.item.record],
              ['patient', r.item.patient],
              ['by', `${r.item.doctorName} (${r.item.hospital})`],
              ['written', when(r.item.writtenAt)],
            ]),
            '',
            contentText(r.content),
          ].join('\n'),
      );
    });

  doctor
    .command('prescribe')
    .description(
      'write a prescription for a report you may read, sealed for the patient and your hospital',
    )
    .requiredOption('--report <id>', 'the report')
    .option('--text <text>', 'the prescription')
    .option('--file <path>', 'a file instead')
    .addHelpText(
      'after',
      example(
        '  ehr doctor prescribe --key heart.key.json --report 9c0f…41 --text "aspirin 75mg daily, 30 days"',
      ),
    )
    .action(async (o: { report: string; text?: string; file?: string }) => {
      const content = contentArg(o);
      const r = await ctx.client().doctor.prescribe({ record: o.report, content });
      ctx.print(r, () => `${txLine(r, 'prescription written')}\nprescription id ${r.hash}`);
    });
}
