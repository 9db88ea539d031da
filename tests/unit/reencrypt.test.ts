/** The pure core of re-keying: which buckets, which objects, what it costs, and what is handed over. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decide, isLocked, type ObjectEncryptionState } from '../../lib/reencrypt/classify';
import { reencryptCoverage, type Target, targetFor } from '../../lib/reencrypt/coverage';
import { countExamined, countListed, emptyTally, estimateCost, PRICES } from '../../lib/reencrypt/estimate';
import { createHandOff, shouldHandOff } from '../../lib/reencrypt/handoff';
import { deduplicationId, firstMessage, parseMessage } from '../../lib/reencrypt/message';
import { failureCode } from '../../lib/reencrypt/rekey-page';
import type { Finding } from '../../lib/finding';
import { s3Error } from './aws-mocks';
import { ACCOUNT, config, configFor, KEYS, REGION } from './fixtures';

const target: Target = { kind: 'kms', keyArn: KEYS.listed, bucketKeyEnabled: true };
const read = (algorithm?: string, kmsKeyId?: string, bucketKeyEnabled?: boolean): ObjectEncryptionState =>
  ({ kind: 'read', ...(algorithm ? { algorithm } : {}), ...(kmsKeyId ? { kmsKeyId } : {}), ...(bucketKeyEnabled !== undefined ? { bucketKeyEnabled } : {}) });

describe('which objects UpdateObjectEncryption can re-key (update-sse-encryption.html)', () => {
  it.each<[string, ObjectEncryptionState, string, string]>([
    ['SSE-S3', read('AES256'), 'SSE_S3', 'update'],
    ['SSE-KMS on another key', read('aws:kms', KEYS.otherOurs, true), 'SSE_KMS_OTHER_KEY', 'update'],
    ['the listed key without a bucket key', read('aws:kms', KEYS.listed), 'SSE_KMS_LISTED_KEY', 'update'],
    ['the listed key with a bucket key', read('aws:kms', KEYS.listed, true), 'SSE_KMS_LISTED_KEY', 'none'],
    ['DSSE-KMS', read('aws:kms:dsse', KEYS.listed), 'DSSE_KMS', 'ineligible'],
    ['SSE-C', { kind: 'sse-c' }, 'SSE_C', 'ineligible'],
    ['unencrypted', read(), 'UNENCRYPTED', 'ineligible'],
    ['an algorithm S3 may add', read('aws:fsx'), 'UNKNOWN', 'ineligible'],
  ])('%s: %s, %s', (_, state, kind, action) => {
    expect(decide(state, target)).toMatchObject({ kind, decision: { action } });
  });

  it('an object under Object Lock (legal hold, or retention not yet expired) is not attempted: S3 would refuse it', () => {
    expect(decide({ ...read('AES256'), locked: true } as ObjectEncryptionState, target).decision).toEqual({ action: 'ineligible', reason: 'OBJECT_LOCKED' });
    expect(decide({ ...read('aws:kms', KEYS.listed, true), locked: true } as ObjectEncryptionState, target).decision).toEqual({ action: 'none' }); // nothing to do anyway
    const now = Date.parse('2026-11-30T12:00:00Z');
    expect(isLocked({ ObjectLockLegalHoldStatus: 'ON' }, now)).toBe(true);
    expect(isLocked({ ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date(now + 1000) }, now)).toBe(true);
    expect(isLocked({ ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: new Date(now - 1000) }, now)).toBe(false); // expired
    expect(isLocked({ ObjectLockLegalHoldStatus: 'OFF' }, now)).toBe(false);
  });

  it('names why an object needs a copy instead', () => {
    expect(decide({ kind: 'sse-c' }, target).decision).toEqual({ action: 'ineligible', reason: 'SSE_C_SOURCE' });
    expect(decide(read('aws:kms:dsse'), target).decision).toEqual({ action: 'ineligible', reason: 'DSSE_SOURCE' });
    expect(decide(read(), target).decision).toEqual({ action: 'ineligible', reason: 'UNENCRYPTED_SOURCE' });
  });
});

describe('the target of a bucket\'s objects', () => {
  const cmk = configFor('SSE_KMS_CUSTOMER_MANAGED');
  it('is the listed key of the bucket\'s region, with the bucket key setting', () => {
    expect(targetFor('SSE_KMS_CUSTOMER_MANAGED', REGION, ACCOUNT, cmk)).toEqual({ kind: 'kms', keyArn: KEYS.listed, bucketKeyEnabled: true });
  });
  it.each([
    ['DSSE_KMS' as const, REGION, 'DSSE_TARGET'],
    ['SSE_KMS_AWS_MANAGED' as const, REGION, 'AWS_MANAGED_TARGET'],
    ['SSE_KMS_CUSTOMER_MANAGED' as const, 'ap-south-1', 'NO_KEY_FOR_REGION'],
  ])('is none UpdateObjectEncryption can write for %s in %s: %s (every object reported, none changed)', (mode, region, problem) => {
    const found = targetFor(mode, region, ACCOUNT, cmk);
    expect(found).toMatchObject({ kind: 'unsupported', problem });
    expect(decide(read('AES256'), found).decision).toEqual({ action: 'ineligible', reason: problem });
  });
  it('is none for a listed key of another account: UpdateObjectEncryption takes only the bucket owner\'s keys unless AWS Support enables more', () => {
    expect(targetFor('SSE_KMS_CUSTOMER_MANAGED', REGION, ACCOUNT, { ...cmk, kmsKeyArns: [KEYS.foreign] })).toMatchObject({ kind: 'unsupported', problem: 'CROSS_ACCOUNT_TARGET_KEY' });
  });
});

describe('which buckets are covered: param, tag, dry run', () => {
  const settings = (objects: 'off' | 'report' | 'enforce', dryRun = false) => ({ ...config({ dryRun }), reencrypt: { objects, inlineMaxObjects: 10_000, versions: 'current' as const } });
  it('follows the param, a tag overrides it per bucket, an invalid tag falls back to the param and is named', () => {
    expect(reencryptCoverage({}, settings('report'))).toEqual({ setting: 'report', source: 'account' });
    expect(reencryptCoverage({ 'encryption-guard:reencrypt': 'enforce' }, settings('report'))).toEqual({ setting: 'enforce', source: 'tag' });
    expect(reencryptCoverage({ 'encryption-guard:reencrypt': 'off' }, settings('enforce'))).toEqual({ setting: 'off', source: 'tag' });
    expect(reencryptCoverage({ 'encryption-guard:reencrypt': 'yes' }, settings('report'))).toEqual({ setting: 'report', source: 'account', invalidTag: 'yes' });
  });
  it('cannot be turned on by a tag where the param is off (nothing is deployed), and only estimates under DRY_RUN', () => {
    expect(reencryptCoverage({ 'encryption-guard:reencrypt': 'enforce' }, settings('off')).setting).toBe('off');
    expect(reencryptCoverage({ 'encryption-guard:reencrypt': 'enforce' }, settings('report', true)).setting).toBe('report');
  });
});

describe('the estimate', () => {
  it('counts objects and bytes, and prices inline re-keying and a Batch Operations job', () => {
    let tally = countListed(emptyTally(), [100, 200, 300]);
    tally = countExamined(tally, 100, 'SSE_S3', { action: 'update' });
    tally = countExamined(tally, 200, 'SSE_KMS_LISTED_KEY', { action: 'none' });
    tally = countExamined(tally, 300, 'SSE_C', { action: 'ineligible', reason: 'SSE_C_SOURCE' });
    expect(tally).toMatchObject({ listed: { objects: 3, bytes: 600 }, eligible: { objects: 1, bytes: 100 }, ineligible: { SSE_C_SOURCE: { objects: 1, bytes: 300 } } });
    const cost = estimateCost(tally);
    expect(cost).toMatchObject({ sampled: false, objectsToReencrypt: 1, requests: { list: 1, head: 3, updateObjectEncryption: 1, kms: 1 } });
    expect(cost.usd.batchOperations).toBeGreaterThanOrEqual(PRICES.batchPerJob);
  });
  it('labels figures that cover only a sample (report mode stops after reencryptInlineMaxObjects): nothing extrapolated', () => {
    let tally = countListed(emptyTally(), Array.from({ length: 10 }, () => 1));
    for (let i = 0; i < 10; i++) tally = countExamined(tally, 1, i < 4 ? 'SSE_S3' : 'SSE_KMS_LISTED_KEY', i < 4 ? { action: 'update' } : { action: 'none' });
    expect(estimateCost(tally, true)).toMatchObject({ sampled: true, covers: { objects: 10, bytes: 10 }, objectsToReencrypt: 4 });
  });
});

describe('the hand-over from the bucket path', () => {
  const finding = (overrides: Partial<Finding>): Finding => ({
    schemaVersion: 1, bucket: 'b-1', account: ACCOUNT, region: REGION, trigger: { type: 'sweep', sweepId: 's' }, mode: 'SSE_KMS_CUSTOMER_MANAGED',
    verdict: 'COMPLIANT', violations: [], action: 'NONE', durationMs: 1, ...overrides,
  });
  const on = { reencrypt: { objects: 'report' as const, inlineMaxObjects: 10, versions: 'current' as const } };
  it('hands over a KMS-mode bucket that is compliant now: found so, or just remediated', () => {
    expect(shouldHandOff(finding({}), on)).toBe(true);
    expect(shouldHandOff(finding({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED' }), on)).toBe(true);
  });
  it.each<[string, Partial<Finding>]>([
    ['SSE_S3 mode', { mode: 'SSE_S3' }], ['SSE_C mode', { mode: 'SSE_C' }], ['exempt', { verdict: 'EXEMPT', mode: undefined }],
    ['an ERROR', { verdict: 'ERROR', action: 'SKIPPED' }], ['a failed remediation', { verdict: 'NONCOMPLIANT', action: 'FAILED' }],
    ['a dry run', { verdict: 'NONCOMPLIANT', action: 'WOULD_REMEDIATE' }],
  ])('never hands over %s', (_, overrides) => {
    expect(shouldHandOff(finding(overrides), on)).toBe(false);
  });
  it('never fails the bucket\'s evaluation: a queue that cannot be reached is logged', async () => {
    const warnings: string[] = [];
    await createHandOff(on, async () => { throw s3Error('ServiceUnavailable', 503); }, (message) => warnings.push(message))(finding({}));
    expect(warnings).toEqual([expect.stringMatching(/not handed to the re-keying queue/)]);
  });
});

describe('queue messages', () => {
  const message = firstMessage({ bucket: 'b-1', region: REGION, account: ACCOUNT, trigger: { type: 'sweep', sweepId: 's' } }, 5);
  it('include the sample event of events/reencrypt/ (a first page, as the queue delivers it)', () => {
    const sample = JSON.parse(readFileSync(join(__dirname, '..', '..', 'events', 'reencrypt', 'first-page.json'), 'utf8')) as { Records: Array<{ body: string }> };
    expect(parseMessage(sample.Records[0].body)).toMatchObject({ bucket: 'example-data-lake-raw-2026', pages: 0 });
  });

  it('round-trip through JSON, and anything else is refused', () => {
    expect(parseMessage(JSON.stringify(message))).toEqual(message);
    for (const bad of ['not json', '{}', JSON.stringify({ ...message, bucket: '../etc' }), JSON.stringify({ ...message, accountId: '1' }), JSON.stringify({ ...message, cursor: { token: 1 } })]) {
      expect(parseMessage(bad)).toBeUndefined();
    }
  });
  it('de-duplicate a bucket\'s start (event and sweep at once, the same UTC day), and each page of a pass', () => {
    expect(deduplicationId(message)).toBe(deduplicationId({ ...message, startedAt: 9 }));
    expect(deduplicationId(message)).not.toBe(deduplicationId({ ...message, startedAt: 24 * 60 * 60 * 1000 }));
    const page = { ...message, cursor: { continuationToken: 't' } };
    expect(deduplicationId(page)).not.toBe(deduplicationId({ ...page, cursor: { continuationToken: 'u' } }));
  });
});

describe('S3\'s documented UpdateObjectEncryption errors', () => {
  it.each([
    [s3Error('AccessDenied', 403), 'ACCESS_DENIED'], [s3Error('InvalidRequest', 400), 'NOT_UPDATABLE'],
    [s3Error('KMS.DisabledException', 400), 'KMS_KEY_UNUSABLE'], [s3Error('SomethingNew', 400), 'SomethingNew'],
  ])('%s is %s', (error, code) => {
    expect(failureCode(error)).toBe(code);
  });
});
