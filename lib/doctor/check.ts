/** A doctor check's result (DESIGN.md "Doctor": `{ id, status, detail }`); the detail says what to do. */
export type Status = 'PASS' | 'WARN' | 'FAIL';

export interface Check {
  /** Stable, machine-readable: `trail`, `rule`, `settle-dlq`, `key:<arn>`, ... */
  id: string;
  status: Status;
  detail: string;
}

export const pass = (id: string, detail: string): Check => ({ id, status: 'PASS', detail });
export const warn = (id: string, detail: string): Check => ({ id, status: 'WARN', detail });
export const fail = (id: string, detail: string): Check => ({ id, status: 'FAIL', detail });

/** The process exit code: 0 only when nothing FAILs. */
export const exitCodeOf = (checks: readonly Check[]): number => (checks.some((check) => check.status === 'FAIL') ? 1 : 0);

/** "3 items: a, b, c" or "12 items: a, b, c … and 9 more", for details that must stay one readable line. */
export const listed = (items: readonly string[], max = 5): string =>
  items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} … and ${items.length - max} more`;

/** "42 s", "7 min", "3.5 h": an age for people. */
export const age = (seconds: number): string =>
  seconds < 120 ? `${Math.round(seconds)} s` : seconds < 7_200 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3_600).toFixed(1)} h`;
