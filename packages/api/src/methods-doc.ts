/** The method catalogue as a Markdown table (the gateway README embeds it; a test keeps it current). */
import { METHODS } from './methods.ts';
import type { Schema } from './schema-shape.ts';

const typeOf = (sc: Schema): string => {
  if (sc.type === 'string' && sc.enum) return sc.enum.map((e) => `"${e}"`).join(' \\| ');
  if (sc.type === 'array') return `${typeOf(sc.items)}[]`;
  if (sc.type === undefined) return sc.anyOf.map(typeOf).join(' \\| ');
  return sc.type;
};

export function methodsMarkdown(): string {
  const rows = METHODS.map((m) => {
    const params = Object.entries(m.params)
      .map(([k, v]) => `\`${k}\`${(m.required ?? []).includes(k) ? '' : '?'}: ${typeOf(v)}`)
      .concat(m.signed ? ['`auth`: ReadAuth'] : [])
      .join(', ');
    const flags = [
      m.signed ? 'signed read' : '',
      m.audited ? 'audited' : '',
      m.wsOnly ? 'WebSocket' : '',
    ]
      .filter(Boolean)
      .join(', ');
    return `| \`${m.name}\` | ${params || '-'} | ${flags || 'public'} | ${m.summary.replace(/\|/g, '\\|')} |`;
  });
  return ['| method | params | access | what |', '|---|---|---|---|', ...rows].join('\n');
}
