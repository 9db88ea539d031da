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

export const toTable = (report: DoctorReport, columns = 120): string => {
  const idWidth = Math.max(5, ...report.checks.map((check) => check.id.length));
  const detailWidth = Math.max(40, columns - idWidth - 10);
  const row = (check: Pick<Check, 'id' | 'detail'> & { status: string }): string => wrap(check.detail, detailWidth)
    .map((text, index) => (index === 0 ? `${check.status.padEnd(7)}${check.id.padEnd(idWidth + 2)}${text}` : `${' '.repeat(idWidth + 9)}${text}`))
    .join('\n');
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
