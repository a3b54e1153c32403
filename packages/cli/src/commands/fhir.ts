/**
 * FHIR R4 in and out: `ehr patient export|import --fhir` and `ehr doctor export --fhir`. The
 * conversion runs here, on the client, after the records are opened (@ehr/fhir).
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { PurposeCode } from '@ehr/core';
import { exportDoctorReport, exportPatient, type ImportLimits, importBundle } from '@ehr/fhir';
import type { Command } from 'commander';
import type { Ctx } from '../context.ts';
import { usage } from '../errors.ts';
import { table } from '../output.ts';
import {
  type HospitalKeyOptions,
  hospitalKeyOpts,
  PURPOSE_HELP,
  purposeArg,
  withHospitalKey,
} from './doctor.ts';

const example = (lines: string) => `\nExample:\n${lines}\n`;
/** A bundle file larger than this is not read (the largest documents the chain takes, base64, many times over). */
const MAX_BUNDLE_FILE = 512 * 1024 * 1024;

function writeBundle(file: string, bundle: unknown, force: boolean): number {
  const text = `${JSON.stringify(bundle, null, 2)}\n`;
  try {
    writeFileSync(file, text, { flag: force ? 'w' : 'wx' });
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST') {
      throw usage(`${file} exists: name another file, or add --force to overwrite it`);
    }
    throw usage(`cannot write ${file}: ${(err as Error).message}`);
  }
  return Buffer.byteLength(text);
}

function progress(ctx: Ctx, what: string) {
  return (done: number, total: number) => {
    if (ctx.json) return;
    const line = `${what} ${done}/${total}`;
    ctx.io.err(ctx.io.errIsTty ? `\r${line}${done === total ? '\n' : ''}` : `${line}\n`);
  };
}

const summary = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([t, n]) => `${n} ${t}`)
    .join(', ');

export function registerFhir(program: Command, ctx: Ctx): void {
  const patient = program.commands.find((c) => c.name() === 'patient')!;
  const doctor = program.commands.find((c) => c.name() === 'doctor')!;

  patient
    .command('export')
    .description(
      'everything you hold as a FHIR R4 Bundle (collection): profile, reports and documents opened here, prescriptions, consents, audit trail',
    )
    .requiredOption('--fhir <file>', 'write the Bundle (JSON) to this new file')
    .option('--force', 'overwrite the file if it exists')
    .addHelpText(
      'after',
      example('  ehr patient export --key alice.key.json --fhir alice-records.json'),
    )
    .action(async (o: { fhir: string; force?: boolean }) => {
      const r = await exportPatient(ctx.client(), { onProgress: progress(ctx, 'opened') });
      const bytes = writeBundle(o.fhir, r.bundle, o.force === true);
      for (const w of r.warnings) ctx.note(`warning: ${w}`);
      ctx.print(
        { file: o.fhir, bytes, resources: r.counts, warnings: r.warnings },
        () => `wrote ${o.fhir} (${bytes} bytes): ${summary(r.counts)}`,
      );
    });

  patient
    .command('import')
    .description(
      'submit the records of a FHIR R4 Bundle from another system as your sealed records (DocumentReference with inline data, Observation, DiagnosticReport, MedicationRequest); duplicates and what is not understood are skipped and listed',
    )
    .requiredOption('--fhir <file>', 'the Bundle (JSON)')
    .option(
      '--hospital <id>',
      'submit reports to this hospital (else the one the bundle names, if it is on this chain)',
    )
    .option(
      '--specialization <slug>',
      "for the reports: which of the hospital's doctors should see them",
    )
    .addHelpText(
      'after',
      example(
        '  ehr patient import --key alice.key.json --fhir discharge.json\n  ehr patient import --key alice.key.json --fhir labs.json --hospital city-general --specialization cardiology --json',
      ),
    )
    .action(async (o: { fhir: string; hospital?: string; specialization?: string }) => {
      if ((o.hospital === undefined) !== (o.specialization === undefined)) {
        throw usage('give --hospital and --specialization together');
      }
      let text: string;
      try {
        const size = statSync(o.fhir).size;
        if (size > MAX_BUNDLE_FILE)
          throw usage(
            `${o.fhir} is ${size} bytes; a bundle file may be at most ${MAX_BUNDLE_FILE}`,
          );
        text = readFileSync(o.fhir, 'utf8');
      } catch (err) {
        if ((err as { code?: string }).code === 'USAGE') throw err;
        throw usage(`cannot read ${o.fhir}: ${(err as Error).message}`);
      }
      const config = await ctx
        .rpc()
        .call<{ limits: { maxPayloadBytes: number; maxDocumentBytes: number } }>('chain_config');
      const limits: ImportLimits = {
        reportBytes: config.limits.maxPayloadBytes,
        documentBytes: config.limits.maxDocumentBytes,
      };
      const r = await importBundle(ctx.client(), text, {
        limits,
        ...(o.hospital ? { hospital: o.hospital } : {}),
        ...(o.specialization ? { specialization: o.specialization } : {}),
        onProgress: progress(ctx, 'submitted'),
      });
      ctx.print(r, () =>
        [
          `imported ${r.imported.length}, skipped ${r.skipped.length}`,
          table(
            ['entry', 'resource', 'as', 'record', 'note'],
            r.imported.map((x) => [
              x.entry,
              x.resource,
              x.report ? `document of ${x.report.slice(0, 12)}…` : x.as,
              x.id,
              x.note,
            ]),
            '(nothing imported)',
          ),
          ...(r.skipped.length
            ? [
                '',
                'skipped:',
                table(
                  ['entry', 'resource', 'why'],
                  r.skipped.map((x) => [x.entry, x.resource, x.reason]),
                ),
              ]
            : []),
        ].join('\n'),
      );
    });

  withHospitalKey(
    doctor
      .command('export')
      .description(
        'one report (opened with your hospital key) and its prescriptions as a FHIR R4 Bundle',
      )
      .requiredOption('--report <id>', 'the report')
      .option('--prescription <id...>', 'prescriptions for it (the ids prescribe printed)')
      .requiredOption('--fhir <file>', 'write the Bundle (JSON) to this new file')
      .option('--purpose <code>', PURPOSE_HELP, purposeArg, 'TREAT')
      .option('--force', 'overwrite the file if it exists'),
  )
    .addHelpText(
      'after',
      example(
        '  ehr doctor export --key heart.key.json --hospital-key city.enc.json \\\n    --report 9c0f…41 --prescription 53a1…9e --fhir referral.json',
      ),
    )
    .action(
      async (
        o: HospitalKeyOptions & {
          report: string;
          prescription?: string[];
          fhir: string;
          purpose: PurposeCode;
          force?: boolean;
        },
      ) => {
        const r = await exportDoctorReport(
          ctx.client(hospitalKeyOpts(o)),
          o.report,
          o.prescription ?? [],
          {
            purpose: o.purpose,
          },
        );
        const bytes = writeBundle(o.fhir, r.bundle, o.force === true);
        for (const w of r.warnings) ctx.note(`warning: ${w}`);
        ctx.print(
          { file: o.fhir, bytes, resources: r.counts, warnings: r.warnings },
          () => `wrote ${o.fhir} (${bytes} bytes): ${summary(r.counts)}`,
        );
      },
    );
}
