/** The doctor's output: a table for people, `{ checks: [{ id, status, detail }] }` for machines. Pure. */
import type { Check } from './check';
import type { DoctorReport } from './run';

export const toJson = (report: DoctorReport): string =>
  JSON.stringify({ checks: report.checks.map(({ id, status, detail }) => ({ id, status, detail })) }, null, 2);

/** Wraps a detail at `width` columns, continuing under its own column. */
const wrap = (text: string, width: number): string[] => {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
};

/** Ids longer than this (a key's ARN) get a line of their own, so the details keep their width. */
const ID_COLUMN = 14;

export const toTable = (report: DoctorReport, columns = 120): string => {
  const idWidth = Math.min(ID_COLUMN, Math.max(5, ...report.checks.map((check) => check.id.length)));
  const indent = ' '.repeat(idWidth + 9);
  const detailWidth = Math.max(40, columns - indent.length);
  const row = (check: Pick<Check, 'id' | 'detail'> & { status: string }): string => {
    const lines = wrap(check.detail, detailWidth);
    const head = `${check.status.padEnd(7)}${check.id.padEnd(idWidth + 2)}`;
    return (check.id.length > idWidth ? [head.trimEnd(), ...lines.map((text) => `${indent}${text}`)]
      : lines.map((text, index) => (index === 0 ? `${head}${text}` : `${indent}${text}`))).join('\n');
  };
  const counts = (['PASS', 'WARN', 'FAIL'] as const).map((status) => `${report.checks.filter((check) => check.status === status).length} ${status}`).join(', ');
  return [
    `Doctor: stack ${report.stack}, account ${report.account}, region ${report.region}`,
    '',
    row({ status: 'STATUS', id: 'CHECK', detail: 'DETAIL (and what to do)' }),
    ...report.checks.map(row),
    '',
    counts,
  ].join('\n');
};
