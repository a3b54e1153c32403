/**
 * `--limit`, `--cursor` and `--all` on list commands: one page by default (limit 100), the page
 * after a cursor, or every page. When more follows, the command says how to get it (on stderr,
 * so --json output stays the items alone).
 */
import { MAX_PAGE_LIMIT, type Session } from '@ehr/api';
import { EhrError } from '@ehr/core';
import type { Command } from 'commander';

export type PageFlags = { limit?: string; cursor?: string; all?: boolean };

export function pagingOptions(cmd: Command): Command {
  return cmd
    .option('--limit <n>', `items per page, 1-${MAX_PAGE_LIMIT} (default 100)`)
    .option('--cursor <cursor>', 'the page after this cursor (printed under the previous page)')
    .option('--all', 'every page, following the cursors');
}

function limitOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || !Number.isInteger(n) || n < 1 || n > MAX_PAGE_LIMIT) {
    throw new EhrError(
      'INVALID_LIMIT',
      `--limit must be an integer from 1 to ${MAX_PAGE_LIMIT}, got "${v.slice(0, 40)}"; use --all for every item`,
      { limit: v.slice(0, 40) },
    );
  }
  return n;
}

/**
 * The page (or with --all every item) of a list method, as the flags ask. When more follows,
 * says where the next page is (on stderr, naming `command`).
 */
export async function listItems<T>(
  session: Session,
  method: string,
  params: Record<string, unknown>,
  signed: boolean,
  flags: PageFlags,
  command: string,
): Promise<T[]> {
  const limit = limitOf(flags.limit);
  if (flags.all) {
    if (flags.cursor !== undefined) {
      throw new EhrError('INVALID_CURSOR', '--all starts from the first page: drop --cursor', {});
    }
    return session.all<T>(method, params, signed);
  }
  const page = await session.page<T>(
    method,
    params,
    { limit: limit ?? 100, ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}) },
    signed,
  );
  if (page.cursor !== undefined) {
    process.stderr.write(`more: ${command} --cursor ${page.cursor}   (or --all)\n`);
  }
  return page.items;
}
