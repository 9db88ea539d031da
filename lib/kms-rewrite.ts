/**
 * A KMS rewrite that would lock someone out is not made. Before the guard points a bucket's default
 * encryption at a KMS key (or at another one), it looks at who outside the account the bucket policy lets
 * write or read objects; if anyone, the bucket is left as it is with a violation naming them — unless the
 * bucket's tag `encryption-guard:kms-rewrite=accept` says they have been taken care of. Pure.
 */
import { isKmsAlgorithm } from './encryption';
import type { Evaluation, Violation, ViolationCode } from './evaluate';
import { type EncryptionMode, KMS_REWRITE_TAG } from './modes';
import { ELB_LOG_ACCOUNTS, type Outsider } from './policy/outside-access';

/** The plan changes the algorithm or the key to a KMS one (not only the SSE-C block). */
export const isKmsRewrite = (evaluation: Evaluation): boolean =>
  evaluation.plan !== undefined && isKmsAlgorithm(evaluation.plan.algorithm)
  && evaluation.violations.some((v) => v.code === 'NO_DEFAULT_ENCRYPTION' || v.code === 'ENCRYPTION_TOO_WEAK' || v.code === 'WRONG_KMS_KEY');

/** How a finding names a party outside the account. */
export const describeOutsider = ({ kind, principal }: Outsider): string => {
  switch (kind) {
    case 'elb-logs': {
      const region = ELB_LOG_ACCOUNTS[/(\d{12})/.exec(principal)?.[1] ?? ''];
      return `${principal} (Elastic Load Balancing access logs${region ? ` of ${region}` : ''}: SSE-S3 only)`;
    }
    case 'service': return `${principal} (AWS service principal)`;
    case 'account': return `${principal} (another account)`;
    case 'organization': return `the accounts of organization ${principal}`;
    case 'anyone': return 'anyone (Principal "*"; anonymous requests cannot use KMS)';
    case 'cloudfront-oai': return `${principal} (cannot read SSE-KMS objects: use CloudFront origin access control)`;
    case 'federated': return `users signed in through ${principal}`;
  }
};

const nextStep = (left: string): string => `${left}; tag it ${KMS_REWRITE_TAG}=accept once they can use the key (or exempt it)`;

/** Why each kind of party would fail under the target key. */
const underKey = (mode: EncryptionMode, keyArn: string | undefined, permission: string): string =>
  mode === 'SSE_KMS_AWS_MANAGED'
    ? `the aws/s3 key admits only this account's principals (its key policy cannot be changed): they would fail`
    : `they keep working only if the key policy of ${keyArn ?? 'the listed key'} grants them ${permission}`;

interface Lockout {
  code: ViolationCode;
  who: readonly Outsider[];
  role: string;
  permission: string;
}

const lockouts = (mode: EncryptionMode, keyArn: string | undefined, left: string, ...all: Lockout[]): Violation[] =>
  all.filter(({ who }) => who.length > 0).map(({ code, who, role, permission }) => ({
    code, severity: 'violation',
    detail: `${mode} would lock out ${role} outside this account: ${who.map(describeOutsider).join('; ')}. ${underKey(mode, keyArn, permission)}; ${nextStep(left)}`,
  }));

/** The violations that stop the rewrite: one for writers, one for readers, each naming who. */
export const rewriteBlockers = (outsiders: readonly Outsider[], mode: EncryptionMode, keyArn: string | undefined): Violation[] => lockouts(mode, keyArn, 'bucket left as it is',
  { code: 'KMS_WOULD_BREAK_WRITERS', who: outsiders.filter((o) => o.writes), role: 'writers', permission: 'kms:GenerateDataKey' },
  { code: 'KMS_WOULD_BREAK_READERS', who: outsiders.filter((o) => o.reads), role: 'readers of new objects', permission: 'kms:Decrypt' });

/**
 * What stops re-keying existing objects (lib/reencrypt/) to the listed key: anyone outside the account who
 * reads them — or writes them, and so may read back what it wrote — loses access unless the key grants it.
 */
export const rekeyBlockers = (outsiders: readonly Outsider[], mode: EncryptionMode, keyArn: string): Violation[] => lockouts(mode, keyArn, 'objects left as they are',
  { code: 'KMS_WOULD_BREAK_READERS', who: outsiders.filter((o) => o.reads || o.writes), role: 'readers of existing objects', permission: 'kms:Decrypt' });

/** The policy could not be read: who else uses the bucket is unknown, so it is not rewritten (nor its objects re-keyed). */
export const unknownOutsiders = (mode: EncryptionMode, withheld = `it is not rewritten to ${mode}`, left = 'bucket left as it is'): Violation => ({
  code: 'POLICY_UNREADABLE', severity: 'violation',
  detail: `the bucket policy could not be read (access denied): who outside this account writes or reads the bucket is unknown, so ${withheld}; ${nextStep(left)}`,
});

/** The evaluation with its rewrite withheld: nothing is written, the blockers say why. */
export const withheld = (evaluation: Evaluation, blockers: readonly Violation[]): Evaluation => ({
  verdict: 'NONCOMPLIANT',
  violations: [...evaluation.violations.filter((v) => v.code !== 'KMS_MAY_BREAK_WRITERS'), ...blockers],
});
