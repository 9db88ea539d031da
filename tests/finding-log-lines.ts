/**
 * The log lines the functions really write — findings of every shape, a retry, an event-publishing
 * failure — captured from the real telemetry sink, and the fields a Logs Insights query reads from them.
 * Used to show that the saved queries and dashboard widgets only name fields the lines have.
 */
import type { Finding } from '../lib/finding';
import { type Unpublished, FINDING_EVENTS_NOT_PUBLISHED } from '../lib/finding-events';
import { createTelemetrySink, logger } from '../lib/telemetry';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1111aaaa-0000-4000-8000-000000000001`;

/** Findings as enforce.ts produces them: typed as `Finding`, so a renamed field fails to compile here too. */
export const SAMPLE_FINDINGS: readonly Finding[] = [
  {
    schemaVersion: 1, bucket: 'team-data', account: ACCOUNT, region: REGION,
    trigger: { type: 'event', eventName: 'CreateBucket', eventId: 'e-1', actor: `arn:aws:iam::${ACCOUNT}:user/alice` },
    mode: 'SSE_KMS_CUSTOMER_MANAGED', modeSource: 'account', verdict: 'NONCOMPLIANT',
    violations: [
      { code: 'WRONG_KMS_KEY', severity: 'violation', detail: 'key aws/s3 is not the key KMS_KEY_ARN lists for us-east-1' },
      { code: 'SSE_C_NOT_BLOCKED', severity: 'violation', detail: 'SSE-C uploads are allowed; BLOCK_SSE_C=block' },
      { code: 'KMS_MAY_BREAK_WRITERS', severity: 'warning', detail: 'the policy grants logging.s3.amazonaws.com' },
    ],
    action: 'REMEDIATED',
    before: { algorithm: 'aws:kms' },
    plan: { algorithm: 'aws:kms', kmsKeyId: KEY, bucketKeyEnabled: true, blockedEncryptionTypes: ['SSE-C'] },
    after: { algorithm: 'aws:kms', kmsKeyId: KEY, bucketKeyEnabled: true, blockedEncryptionTypes: ['SSE-C'] },
    durationMs: 87,
  },
  {
    schemaVersion: 1, bucket: 'legacy-data', account: ACCOUNT, region: REGION,
    trigger: { type: 'sweep', sweepId: 's-1' },
    mode: 'SSE_S3', modeSource: 'account', verdict: 'ERROR',
    violations: [
      { code: 'FOREIGN_OR_UNUSABLE_KEY', severity: 'violation', detail: 'key arn:aws:kms:us-east-1:999988887777:key/x belongs to another account' },
      { code: 'KEY_ROTATION_DISABLED', severity: 'warning', detail: 'rotation is off' },
    ],
    action: 'SKIPPED', before: { algorithm: 'aws:kms', kmsKeyId: 'arn:aws:kms:us-east-1:999988887777:key/x' }, durationMs: 12,
  },
  {
    schemaVersion: 1, bucket: 'locked-data', account: ACCOUNT, region: REGION,
    trigger: { type: 'event', eventName: 'PutBucketEncryption', actor: `arn:aws:iam::${ACCOUNT}:role/ci` },
    mode: 'SSE_S3', modeSource: 'tag', verdict: 'ERROR',
    violations: [{ code: 'ACCESS_DENIED', severity: 'violation', detail: 'PutBucketEncryption: AccessDenied' }],
    action: 'FAILED', before: null, durationMs: 40,
  },
  {
    schemaVersion: 1, bucket: 'fine-data', account: ACCOUNT, region: REGION,
    trigger: { type: 'event', eventName: 'CreateBucket', actor: `arn:aws:iam::${ACCOUNT}:user/bob` },
    mode: 'SSE_S3', modeSource: 'account', verdict: 'COMPLIANT', violations: [], action: 'NONE', before: { algorithm: 'AES256' }, durationMs: 9,
  },
];

export type LogLine = Record<string, unknown>;

/** Every log line the real sink writes for the sample findings, a retry and a publishing failure. */
export const captureLogLines = async (): Promise<LogLine[]> => {
  const written: string[] = [];
  const capture = (chunk: unknown): boolean => {
    written.push(String(chunk));
    return true;
  };
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  logger.setLogLevel('INFO');
  try {
    const failure: Unpublished = { bucket: 'locked-data', verdict: 'ERROR', action: 'FAILED', error: 'AccessDeniedException: simulated' };
    const sink = createTelemetrySink({
      add: () => undefined,
      flush: async () => logger.error(FINDING_EVENTS_NOT_PUBLISHED, { count: 1, findings: [failure] }),
    });
    for (const finding of SAMPLE_FINDINGS) sink.finding(finding);
    sink.retrying('flaky-data', Object.assign(new Error('We encountered an internal error'), { name: 'InternalError' }));
    await sink.flush();
  } finally {
    logger.setLogLevel('SILENT');
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return written.join('').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine)
    // Only the logger's lines (metrics are disabled in tests; EMF would have `_aws`).
    .filter((line) => typeof line.message === 'string');
};

/** Field names as Logs Insights flattens a JSON log line: `finding.trigger.actor`, `finding.violations.0.code`. */
export const flatten = (value: unknown, prefix = ''): string[] => {
  if (typeof value !== 'object' || value === null) return prefix ? [prefix] : [];
  const entries = Array.isArray(value) ? value.map((item, index) => [String(index), item] as const) : Object.entries(value);
  return [...(prefix ? [prefix] : []), ...entries.flatMap(([key, inner]) => flatten(inner, prefix ? `${prefix}.${key}` : key))];
};

/**
 * The log-line fields a query reads: dotted names (`finding.bucket`; `line.finding.violations` after
 * `jsonParse(@message) as line` is the same field; `violation.code` is a field of an element of
 * `finding.violations` after `unnest ... into violation`) and the bare Powertools keys it compares.
 */
export const fieldsOfQuery = (query: string): string[] => {
  const dotted = (query.match(/(?<![\w@."'])[A-Za-z_][\w]*(\.[\w]+)+/g) ?? [])
    .map((name) => name.replace(/^line\./, ''))
    .map((name) => name.replace(/^violation\./, 'finding.violations.0.'));
  const bare = (query.match(/(?<![\w@.])(message|level)(?=\s*(=|!=|in\b))/g) ?? []);
  return [...new Set([...dotted, ...bare])];
};

/** Fields a query reads that no captured line has (array indices compared as "any element"). */
export const missingFields = (query: string, lines: readonly LogLine[]): string[] => {
  const normalize = (name: string): string => name.replace(/\.\d+(?=\.|$)/g, '.N');
  const known = new Set(lines.flatMap((line) => flatten(line)).map(normalize));
  return fieldsOfQuery(query).filter((name) => !known.has(normalize(name)));
};
