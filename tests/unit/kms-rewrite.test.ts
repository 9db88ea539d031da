import type { Evaluation } from '../../lib/evaluate';
import { isKmsRewrite, rewriteBlockers, unknownOutsiders, withheld } from '../../lib/kms-rewrite';
import type { Outsider } from '../../lib/policy/outside-access';
import { KEYS } from './fixtures';

const elb: Outsider = { principal: 'logdelivery.elasticloadbalancing.amazonaws.com', kind: 'elb-logs', writes: true, reads: false };
const legacyElb: Outsider = { principal: 'arn:aws:iam::156460612806:root', kind: 'elb-logs', writes: true, reads: false };
const partner: Outsider = { principal: '111122223333', kind: 'account', writes: true, reads: true };

describe('what counts as a KMS rewrite', () => {
  const rewrite = (code: string, algorithm = 'aws:kms'): Evaluation =>
    ({ verdict: 'NONCOMPLIANT', violations: [{ code: code as never, severity: 'violation', detail: '' }], plan: { algorithm } });

  it.each(['NO_DEFAULT_ENCRYPTION', 'ENCRYPTION_TOO_WEAK', 'WRONG_KMS_KEY'])('a KMS plan fixing %s', (code) => {
    expect(isKmsRewrite(rewrite(code))).toBe(true);
    expect(isKmsRewrite(rewrite(code, 'aws:kms:dsse'))).toBe(true);
  });

  it('not a plan to AES256, nor one that only changes the SSE-C block, nor no plan', () => {
    expect(isKmsRewrite(rewrite('NO_DEFAULT_ENCRYPTION', 'AES256'))).toBe(false);
    expect(isKmsRewrite(rewrite('SSE_C_NOT_BLOCKED'))).toBe(false);
    expect(isKmsRewrite({ verdict: 'COMPLIANT', violations: [] })).toBe(false);
  });
});

describe('who a rewrite would lock out', () => {
  it('aws/s3: names writers and readers, each in its own violation, with why they would fail and how to accept', () => {
    const [writers, readers] = rewriteBlockers([elb, legacyElb, partner], 'SSE_KMS_AWS_MANAGED', undefined);
    expect(writers).toMatchObject({ code: 'KMS_WOULD_BREAK_WRITERS', severity: 'violation' });
    expect(writers.detail).toContain('logdelivery.elasticloadbalancing.amazonaws.com (Elastic Load Balancing access logs: SSE-S3 only)');
    expect(writers.detail).toContain('arn:aws:iam::156460612806:root (Elastic Load Balancing access logs of eu-west-1: SSE-S3 only)');
    expect(writers.detail).toMatch(/aws\/s3 key admits only this account's principals/);
    expect(writers.detail).toMatch(/tag it encryption-guard:kms-rewrite=accept/);
    expect(readers).toMatchObject({ code: 'KMS_WOULD_BREAK_READERS', detail: expect.stringContaining('111122223333 (another account)') });
    expect(readers.detail).not.toContain('elasticloadbalancing');
  });

  it('a customer managed key: they keep working only if its key policy grants them', () => {
    const [writers] = rewriteBlockers([partner], 'SSE_KMS_CUSTOMER_MANAGED', KEYS.listed);
    expect(writers.detail).toContain(`key policy of ${KEYS.listed} grants them kms:GenerateDataKey`);
  });

  it('nobody outside: nothing stops the rewrite', () => {
    expect(rewriteBlockers([], 'DSSE_KMS', KEYS.listed)).toEqual([]);
  });

  it('an unreadable policy stops it too: who uses the bucket is unknown', () => {
    expect(unknownOutsiders('SSE_KMS_AWS_MANAGED')).toMatchObject({ code: 'POLICY_UNREADABLE', severity: 'violation', detail: expect.stringMatching(/not rewritten/) });
  });

  it('a withheld evaluation has no plan, keeps its violations, and drops the weaker warning the blockers replace', () => {
    const evaluation: Evaluation = {
      verdict: 'NONCOMPLIANT', plan: { algorithm: 'aws:kms' },
      violations: [{ code: 'ENCRYPTION_TOO_WEAK', severity: 'violation', detail: '' }, { code: 'KMS_MAY_BREAK_WRITERS', severity: 'warning', detail: '' }],
    };
    const blockers = rewriteBlockers([elb], 'SSE_KMS_AWS_MANAGED', undefined);
    expect(withheld(evaluation, blockers)).toEqual({ verdict: 'NONCOMPLIANT', violations: [evaluation.violations[0], ...blockers] });
  });
});
