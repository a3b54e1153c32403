/** `ehr genesis new`: write the genesis document of a new network. */
import { writeFileSync } from 'node:fs';
import { genesisToJson, validateGenesis } from '@ehr/ledger';
import type { Command } from 'commander';
import { type Ctx, publicKeyArg } from '../context.ts';

export function registerGenesis(program: Command, ctx: Ctx): void {
  program
    .command('genesis')
    .description('genesis documents')
    .command('new')
    .description(
      'write a genesis document (admins, validators, observers); keys as hex or key files',
    )
    .requiredOption('--chain-id <id>', 'network name, e.g. city-health')
    .requiredOption('--admin <key...>', 'admin public keys (hex or key files)')
    .requiredOption('--validator <key...>', 'validator node public keys (hex or key files)')
    .option('--observer <key...>', 'observer node public keys (hex or key files)', [])
    .option('--out <file>', 'output file', 'genesis.json')
    .addHelpText(
      'after',
      '\nExample:\n  ehr genesis new --chain-id city-health --admin admin.key.json \\\n    --validator node1/node.key.json --out node1/genesis.json\n',
    )
    .action(
      (o: {
        chainId: string;
        admin: string[];
        validator: string[];
        observer: string[];
        out: string;
      }) => {
        const g = validateGenesis({
          chainId: o.chainId,
          genesisTime: new Date().toISOString(),
          admins: o.admin.map((k) => publicKeyArg(k, '--admin')),
          validators: o.validator.map((k) => publicKeyArg(k, '--validator')),
          observers: o.observer.map((k) => publicKeyArg(k, '--observer')),
        });
        writeFileSync(o.out, genesisToJson(g));
        ctx.print(
          { file: o.out, chainId: g.chainId },
          () => `wrote ${o.out} for chain ${g.chainId}`,
        );
      },
    );
}
