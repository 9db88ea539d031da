import { resolveRequirement } from '../../lib/requirement';
import { config } from './fixtures';

describe('which mode a bucket must have', () => {
  it('is the account mode when the bucket has no mode tag', () => {
    expect(resolveRequirement('app-data', {}, config())).toEqual({ kind: 'mode', mode: 'SSE_S3', source: 'account' });
  });

  it('is the mode tag when present, any mode including SSE_C', () => {
    expect(resolveRequirement('app-data', { 'encryption-guard:mode': 'DSSE_KMS' }, config())).toEqual({ kind: 'mode', mode: 'DSSE_KMS', source: 'tag' });
    expect(resolveRequirement('app-data', { 'encryption-guard:mode': 'SSE_C' }, config())).toEqual({ kind: 'mode', mode: 'SSE_C', source: 'tag' });
  });

  it('carries the per-bucket options: the opt-in SSE-C deny and an accepted KMS rewrite, only when set', () => {
    expect(resolveRequirement('app-data', { 'encryption-guard:mode': 'SSE_C', 'encryption-guard:sse-c-deny': 'true' }, config()))
      .toEqual({ kind: 'mode', mode: 'SSE_C', source: 'tag', sseCDeny: true });
    expect(resolveRequirement('app-data', { 'encryption-guard:kms-rewrite': 'Accept' }, config({ mode: 'SSE_KMS_AWS_MANAGED' })))
      .toEqual({ kind: 'mode', mode: 'SSE_KMS_AWS_MANAGED', source: 'account', kmsRewriteAccepted: true });
    expect(resolveRequirement('app-data', { 'encryption-guard:sse-c-deny': 'yes', 'encryption-guard:kms-rewrite': 'true' }, config()))
      .toEqual({ kind: 'mode', mode: 'SSE_S3', source: 'account' });
  });

  it('is invalid, with the reason, for an unknown mode tag value', () => {
    expect(resolveRequirement('app-data', { 'encryption-guard:mode': 'sse-kms' }, config())).toEqual({ kind: 'invalid', detail: expect.stringMatching(/"sse-kms" is not a mode/) });
  });

  it.each([
    ['the exempt tag set to true', 'app-data', { 'encryption-guard:exempt': 'true' }, config()],
    ['the exempt tag in any case', 'app-data', { 'encryption-guard:exempt': 'TRUE' }, config()],
    ['a custom exempt tag', 'app-data', { 'security:skip': 'true' }, config({ exemptTag: 'security:skip' })],
    ['a name in EXEMPT_BUCKETS', 'legacy-archive', {}, config({ exemptBuckets: ['legacy-archive'] })],
    ['a glob in EXEMPT_BUCKETS', 'team-a-logs-2026', {}, config({ exemptBuckets: ['team-?-logs-*'] })],
    ['the guard\'s own stack (CloudFormation tag)', 's3-encryption-guard-dev-trailbucket-abc', { 'aws:cloudformation:stack-name': 's3-encryption-guard-dev' }, config()],
  ])('exempts a bucket with %s, even over a mode tag', (_name, bucket, tags, settings) => {
    expect(resolveRequirement(bucket, { ...tags, 'encryption-guard:mode': 'SSE_KMS_AWS_MANAGED' }, settings).kind).toBe('exempt');
  });

  it.each([
    ['the exempt tag set to false', 'app-data', { 'encryption-guard:exempt': 'false' }, config()],
    ['a glob that matches only part of the name', 'team-a-logs-2026', {}, config({ exemptBuckets: ['team-a'] })],
    ['a dot in a glob, which is literal', 'teamxlogs', {}, config({ exemptBuckets: ['team.logs'] })],
    ['another stack\'s buckets', 'other-stack-bucket', { 'aws:cloudformation:stack-name': 'another-stack' }, config()],
  ])('does not exempt a bucket with %s', (_name, bucket, tags, settings) => {
    expect(resolveRequirement(bucket, tags, settings).kind).toBe('mode');
  });
});
