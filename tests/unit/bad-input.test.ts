/**
 * The bad-input corpus (tests/bad-input/, described case by case in tests/bad-input/cases.json): every
 * malformed, hostile, failed, foreign or out-of-scope event goes through the real handler composition
 * `createBucketEventHandler(guard, sink)` — as a bare EventBridge event and as the body of an SQS record
 * — and must come out as exactly one `event ignored` with a clear, specific, short reason: no crash, no
 * AWS call (S3, KMS, STS, Lambda, EventBridge, DynamoDB are all mocked and must see nothing), no finding, no retry.
 *
 * The reason each case must get is a regular expression in cases.json, kept apart from the events so
 * that every file is exactly what a user replays:
 *   npx serverless invoke local -f enforceBucket -p tests/bad-input/<file>
 * A case that fails here is a bug in lib/ or handlers/, not in the corpus: do not loosen the pattern.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createBucketEventHandler, handler } from '../../handlers/bucket-event';
import type { Finding } from '../../lib/finding';
import { type FindingSink, logger, metrics } from '../../lib/telemetry';
import { testGuard } from './aws-mocks';
import { ACCOUNT, config, REGION } from './fixtures';

const CORPUS = join(__dirname, '..', 'bad-input');
const EVENTS_DIR = join(__dirname, '..', '..', 'events');

interface Case {
  /** A JavaScript regular expression the `event ignored` reason must match. */
  reason: string;
  about: string;
}
interface Manifest {
  events: Record<string, Case>;
  sqs: Record<string, Case>;
}
const manifest = JSON.parse(readFileSync(join(CORPUS, 'cases.json'), 'utf8')) as Manifest;
const EVENT_CASES = Object.keys(manifest.events);
const SQS_CASES = Object.keys(manifest.sqs);
const text = (file: string): string => readFileSync(join(CORPUS, file), 'utf8');
/** As Lambda hands a bare event to the handler: the file's JSON, parsed. */
const parsed = (file: string): unknown => JSON.parse(text(file));

/** Every AWS client the guard can make (lib/aws-clients.ts): none may be called. */
const aws = {
  S3: mockClient(S3Client), KMS: mockClient(KMSClient), STS: mockClient(STSClient), Lambda: mockClient(LambdaClient),
  EventBridge: mockClient(EventBridgeClient), DynamoDB: mockClient(DynamoDBClient),
};
const awsCalls = (): Record<string, number> => Object.fromEntries(Object.entries(aws).map(([name, mock]) => [name, mock.calls().length]));
const NO_AWS_CALLS = { S3: 0, KMS: 0, STS: 0, Lambda: 0, EventBridge: 0, DynamoDB: 0 };

const context = {
  invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:s3-encryption-guard-dev-enforceBucket`,
  functionName: 's3-encryption-guard-dev-enforceBucket',
  awsRequestId: '8d3c4b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a',
} satisfies Partial<Context>;

const sqsRecord = (messageId: string, body: string): SQSRecord => ({
  messageId, receiptHandle: `AQEB-${messageId}`, body,
  attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1772445764912', SenderId: 'AIDA2EXAMPLEEVENTBRDG', ApproximateFirstReceiveTimestamp: '1772445824924' },
  messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs',
  eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:s3-encryption-guard-dev-SettleQueue-Xq3rB7nK2pLm`, awsRegion: REGION,
});
/** A message id like SQS's, distinct per case. */
const messageId = (index: number): string => `5f2c8e1a-9b37-4d64-a0f5-${String(index).padStart(12, '0')}`;

const recorder = () => {
  const ignored: { reason: string; eventId?: string }[] = [];
  const findings: Finding[] = [];
  const retrying: string[] = [];
  let flushes = 0;
  const sink: FindingSink = {
    finding: (finding) => { findings.push(finding); },
    ignored: (reason, eventId) => { ignored.push({ reason, ...(eventId !== undefined ? { eventId } : {}) }); },
    notEvaluated: () => undefined,
    retrying: (bucket) => { retrying.push(bucket); },
    flush: async () => { flushes += 1; },
  };
  return { sink, ignored, findings, retrying, flushes: () => flushes };
};

/** The handler's result, or what it threw (a crash is a result to report, not a test error). */
const settle = async (run: Promise<unknown>): Promise<{ value: unknown } | { thrown: string }> => {
  try {
    return { value: await run };
  } catch (error) {
    return { thrown: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
};

const MAX_REASON = 200;
/** Every reason: the case's pattern, short, printable, and naming no JavaScript internals. */
const reasonProblems = (reason: unknown, pattern: string): string[] => {
  if (typeof reason !== 'string') return [`reason is ${typeof reason}, not a string`];
  const problems: string[] = [];
  if (!new RegExp(pattern).test(reason)) problems.push(`reason ${JSON.stringify(reason.slice(0, 300))} does not match /${pattern}/`);
  if (reason.length === 0 || reason.length > MAX_REASON) problems.push(`reason is ${reason.length} characters long (1 to ${MAX_REASON} expected)`);
  if (/[\u0000-\u001f\u007f]/.test(reason)) problems.push(`reason carries raw control characters (log injection): ${JSON.stringify(reason)}`);
  if (/\[object \w+\]|\bundefined\b/.test(reason)) problems.push(`reason shows a JavaScript internal: ${JSON.stringify(reason)}`);
  return problems;
};
const eventIdProblems = (eventId: unknown): string[] =>
  (eventId === undefined || (typeof eventId === 'string' && eventId.length > 0 && eventId.length <= 128) ? [] : [`eventId passed to the sink is implausible: ${String(eventId).slice(0, 60)}… (${String(eventId).length} chars)`]);

/** The patterns left without a reason of their own when each reason serves one pattern (Kuhn's matching). */
const unmatchedPatterns = (reasons: string[], patterns: string[]): string[] => {
  const fits = patterns.map((pattern) => reasons.map((reason) => reasonProblems(reason, pattern).length === 0));
  const owner: number[] = reasons.map(() => -1);
  const assign = (p: number, seen: boolean[]): boolean => {
    for (let r = 0; r < reasons.length; r += 1) {
      if (!fits[p][r] || seen[r]) continue;
      seen[r] = true;
      if (owner[r] < 0 || assign(owner[r], seen)) {
        owner[r] = p;
        return true;
      }
    }
    return false;
  };
  return patterns.filter((_, p) => !assign(p, reasons.map(() => false)));
};

/** Runs one bare event and returns every way it departs from "ignored once, with a clear reason". */
const bareProblems = async (event: unknown, pattern: string): Promise<string[]> => {
  const { sink, ignored, findings, retrying, flushes } = recorder();
  const outcome = await settle(createBucketEventHandler(testGuard(config()), sink)(event, context));
  const problems: string[] = [];
  if ('thrown' in outcome) problems.push(`the handler threw ${outcome.thrown}`);
  if (JSON.stringify(awsCalls()) !== JSON.stringify(NO_AWS_CALLS)) problems.push(`AWS was called: ${JSON.stringify(awsCalls())}`);
  if (findings.length > 0) problems.push(`findings were produced for ${findings.map((f) => f.bucket).join(', ')}`);
  if (retrying.length > 0) problems.push(`retries were asked for ${retrying.join(', ')}`);
  if (flushes() !== 1) problems.push(`the sink was flushed ${flushes()} times, not once`);
  if (ignored.length !== 1) problems.push(`the sink got ${ignored.length} ignored calls, not 1`);
  else {
    problems.push(...reasonProblems(ignored[0].reason, pattern), ...eventIdProblems(ignored[0].eventId));
    if ('value' in outcome && JSON.stringify(outcome.value) !== JSON.stringify({ ignored: ignored[0].reason })) {
      problems.push(`the handler returned ${JSON.stringify(outcome.value)?.slice(0, 200)}, not { ignored: <the logged reason> }`);
    }
  }
  return problems;
};

/** Runs one SQS batch and returns every way it departs from "each record ignored once, none retried". */
const batchProblems = async (event: SQSEvent, patterns: string[]): Promise<string[]> => {
  const { sink, ignored, findings, retrying, flushes } = recorder();
  const before = JSON.stringify(event);
  const outcome = await settle(createBucketEventHandler(testGuard(config()), sink)(event, context));
  const problems: string[] = [];
  if ('thrown' in outcome) problems.push(`the handler threw ${outcome.thrown}`);
  else if (JSON.stringify(outcome.value) !== JSON.stringify({ batchItemFailures: [] })) {
    problems.push(`the handler returned ${JSON.stringify(outcome.value)?.slice(0, 300)}, not { batchItemFailures: [] }`);
  }
  if (JSON.stringify(awsCalls()) !== JSON.stringify(NO_AWS_CALLS)) problems.push(`AWS was called: ${JSON.stringify(awsCalls())}`);
  if (findings.length > 0) problems.push(`findings were produced for ${findings.map((f) => f.bucket).join(', ')}`);
  if (retrying.length > 0) problems.push(`retries were asked for ${retrying.join(', ')}`);
  if (flushes() !== 1) problems.push(`the sink was flushed ${flushes()} times, not once`);
  if (JSON.stringify(event) !== before) problems.push('the handler changed the SQS event');
  if (ignored.length !== patterns.length) problems.push(`the sink got ${ignored.length} ignored calls for ${patterns.length} records`);
  else {
    // Records are handled concurrently: pair reasons with patterns (a bipartite matching, so that a
    // lenient pattern cannot take the reason a stricter one needs).
    for (const pattern of unmatchedPatterns(ignored.map((i) => i.reason), patterns)) {
      problems.push(`no clear reason matches /${pattern}/`);
    }
    for (const { eventId } of ignored) problems.push(...eventIdProblems(eventId));
  }
  return problems;
};

const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

beforeEach(() => {
  for (const mock of Object.values(aws)) mock.reset();
});

afterAll(() => {
  // JSON.parse makes "__proto__" an own property; nothing in the guard may have merged it into a prototype.
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
  expect(({} as Record<string, unknown>).bucketName).toBeUndefined();
  expect(({} as Record<string, unknown>).eventSource).toBeUndefined();
});

describe('the corpus', () => {
  const filesUnder = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [relative(CORPUS, join(dir, entry.name)).split(sep).join('/')]));

  it('has a manifest entry, with a reason pattern and a description, for every file, and a file for every entry', () => {
    const files = filesUnder(CORPUS).filter((file) => file !== 'cases.json');
    expect(files.filter((file) => !file.endsWith('.json'))).toEqual([]);
    expect([...EVENT_CASES, ...SQS_CASES].sort()).toEqual(files.sort());
    for (const entry of [...Object.values(manifest.events), ...Object.values(manifest.sqs)]) {
      expect(entry).toEqual({ reason: expect.any(String), about: expect.any(String) });
      expect(() => new RegExp(entry.reason)).not.toThrow();
    }
  });

  it('holds well over 60 event cases and every malformed SQS record shape', () => {
    expect(EVENT_CASES.length).toBeGreaterThanOrEqual(60);
    for (const group of ['truncated', 'wrong-type', 'envelope', 'failed-call', 'other-account', 'region', 'event-name', 'read-only',
      'bucket-name', 'directory-bucket', 'tag-resource', 'prototype', 'nested']) {
      expect(EVENT_CASES.filter((file) => file.startsWith(`${group}/`)).length).toBeGreaterThanOrEqual(3);
    }
    for (const shape of ['body-not-json', 'body-empty-string', 'body-json-null', 'body-json-array', 'body-json-number', 'body-missing']) {
      expect(SQS_CASES).toContain(`sqs/${shape}.json`);
    }
  });

  it('keeps every SQS case to a batch of one record from the queue', () => {
    for (const file of SQS_CASES) {
      const event = parsed(file) as SQSEvent;
      expect(event.Records).toHaveLength(1);
      expect(event.Records[0]).toMatchObject({ eventSource: 'aws:sqs', messageId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    }
  });

  it('starts from the sample events: the same shapes, broken one way each', () => {
    const create = JSON.parse(readFileSync(join(EVENTS_DIR, 'create-bucket.json'), 'utf8')) as { detail: { eventID: string } };
    expect(parsed('bucket-name/path-traversal.json')).toMatchObject({ detail: { eventID: create.detail.eventID, requestParameters: { bucketName: '../../etc/passwd' } } });
  });
});

describe.each(EVENT_CASES)('%s', (file) => {
  const { reason } = manifest.events[file];

  it('as a bare EventBridge event: ignored once with a clear reason, no AWS call, no finding', async () => {
    expect(await bareProblems(parsed(file), reason)).toEqual([]);
  });

  it('as the body of an SQS record: ignored once with a clear reason, not retried, no AWS call', async () => {
    expect(await batchProblems({ Records: [sqsRecord(messageId(EVENT_CASES.indexOf(file)), text(file))] }, [reason])).toEqual([]);
  });
});

describe.each(SQS_CASES)('%s', (file) => {
  it('is ignored once with a clear reason, not retried, no AWS call', async () => {
    expect(await batchProblems(parsed(file) as SQSEvent, [manifest.sqs[file].reason])).toEqual([]);
  });
});

describe('the whole corpus in one SQS batch', () => {
  it('ignores every record, retries none, calls nothing', async () => {
    const records = [
      ...EVENT_CASES.map((file, index) => sqsRecord(messageId(index), text(file))),
      ...SQS_CASES.map((file) => (parsed(file) as SQSEvent).Records[0]),
    ];
    const patterns = [...EVENT_CASES.map((file) => manifest.events[file].reason), ...SQS_CASES.map((file) => manifest.sqs[file].reason)];
    expect(await batchProblems({ Records: records }, patterns)).toEqual([]);
  });
});

describe('oversized fields (generated: a file would be pointless)', () => {
  const MB = 1024 * 1024;
  const base = (): Record<string, any> => JSON.parse(readFileSync(join(EVENTS_DIR, 'create-bucket.json'), 'utf8'));
  const change = (edit: (event: Record<string, any>) => void): Record<string, any> => {
    const event = base();
    edit(event);
    return event;
  };

  it.each([
    ['a 1 MB eventName', change((e) => { e.detail.eventName = 'CreateBucket'.padEnd(MB, 'x'); }), '^event name "CreateBucketx+.{0,2} is not one the guard acts on$'],
    ['a 1 MB source', change((e) => { e.source = 'aws.s3'.padEnd(MB, 's'); }), '^source is "aws\\.s3s+.{0,2}, not aws\\.s3$'],
    ['a 100 KB detail-type', change((e) => { e['detail-type'] = 'AWS API Call via CloudTrail'.padEnd(100 * 1024, '!'); }), '^detail-type is not "AWS API Call via CloudTrail"$'],
    ['a 100 KB eventID on a PutObject event', change((e) => { e.detail.eventName = 'PutObject'; e.detail.eventID = 'e'.repeat(100 * 1024); }), '^event name "PutObject" is not one the guard acts on$'],
    ['a 100 KB eventID on a failed call', change((e) => { e.detail.errorCode = 'AccessDenied'; e.detail.eventID = 'e'.repeat(100 * 1024); }), '^the CreateBucket call failed \\(AccessDenied\\)$'],
    ['a 10 KB errorCode', change((e) => { e.detail.errorCode = 'A'.repeat(10 * 1024); }), '^the CreateBucket call failed \\(error\\)$'],
    ['a 1 MB account', change((e) => { e.account = '1'.repeat(MB); }), '^(?=.*account)'],
    ['a 1 MB bucket name', change((e) => { e.detail.requestParameters.bucketName = 'b'.repeat(MB); }), '^event names no bucket$|^bucket name must be 3 to 63 characters$'],
    ['a 1 MB region', change((e) => { e.detail.awsRegion = `us-east-1${'1'.repeat(MB)}`; }), '^event has no valid awsRegion$'],
    ['a 1 MB resourceArn', (() => {
      const event = JSON.parse(readFileSync(join(EVENTS_DIR, 'tag-resource.json'), 'utf8'));
      event.detail.requestParameters.resourceArn = `arn:aws:s3:::${'a'.repeat(MB)}`;
      return event;
    })(), '^resource is not a general purpose bucket$'],
  ])('%s: ignored once with a short reason, bare and in SQS', async (_, event, pattern) => {
    expect(await bareProblems(event, pattern)).toEqual([]);
    expect(await batchProblems({ Records: [sqsRecord(messageId(9001), JSON.stringify(event))] }, [pattern])).toEqual([]);
  });

  it('a 1 MiB SQS body that is not JSON is ignored, not retried', async () => {
    expect(await batchProblems({ Records: [sqsRecord(messageId(9002), `{"source":"aws.s3",${'x'.repeat(MB)}`)] }, ['^SQS message [0-9a-f-]{36} is not a JSON event$'])).toEqual([]);
  });

  it('a 1 MiB SQS body that is a JSON event of another account is ignored, not retried', async () => {
    const event = change((e) => { e.account = '111122223333'; e.detail.recipientAccountId = '111122223333'; e.detail.padding = 'p'.repeat(MB); });
    expect(await batchProblems({ Records: [sqsRecord(messageId(9003), JSON.stringify(event))] }, ['^event of account 111122223333; the guard acts only in 123456789012$'])).toEqual([]);
  });

  it('an empty SQS batch makes no call, no finding and no retry (there is no event to report)', async () => {
    const { sink, ignored, findings } = recorder();
    await expect(createBucketEventHandler(testGuard(config()), sink)({ Records: [] }, context)).resolves.toEqual({ batchItemFailures: [] });
    expect(awsCalls()).toEqual(NO_AWS_CALLS);
    expect(findings).toEqual([]);
    expect(ignored).toEqual([]);
  });
});

describe('the deployed handler (real sink: Powertools Logger and Metrics)', () => {
  it('logs exactly one "event ignored" line with the reason per case, no finding, no metric, no AWS call', async () => {
    const info = jest.spyOn(logger, 'info');
    const warn = jest.spyOn(logger, 'warn');
    const error = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const problems: string[] = [];
    try {
      const run = async (file: string, event: unknown, expected: string[]) => {
        info.mockClear();
        warn.mockClear();
        error.mockClear();
        addMetric.mockClear();
        for (const mock of Object.values(aws)) mock.resetHistory();
        const outcome = await settle(handler(event, context));
        const lines = info.mock.calls.filter(([message]) => message === 'event ignored');
        const reasons = lines.map(([, extra]) => (extra as { reason?: unknown } | undefined)?.reason);
        const own: string[] = [];
        if ('thrown' in outcome) own.push(`threw ${outcome.thrown}`);
        if (lines.length !== expected.length) own.push(`${lines.length} "event ignored" lines for ${expected.length} events`);
        expected.forEach((pattern, index) => own.push(...reasonProblems(reasons[index], pattern)));
        if (warn.mock.calls.length + error.mock.calls.length > 0) own.push('logged a warning or an error');
        if (info.mock.calls.some(([message]) => message === 'bucket evaluated')) own.push('logged a finding');
        if (addMetric.mock.calls.length > 0) own.push(`counted metrics ${addMetric.mock.calls.map(([name]) => name).join(', ')}`);
        if (JSON.stringify(awsCalls()) !== JSON.stringify(NO_AWS_CALLS)) own.push(`AWS was called: ${JSON.stringify(awsCalls())}`);
        problems.push(...own.map((problem) => `${file}: ${problem}`));
      };
      for (const file of EVENT_CASES) await run(file, parsed(file), [manifest.events[file].reason]);
      for (const file of SQS_CASES) await run(file, parsed(file), [manifest.sqs[file].reason]);
    } finally {
      info.mockRestore();
      warn.mockRestore();
      error.mockRestore();
      addMetric.mockRestore();
    }
    expect(problems).toEqual([]);
  });
});
