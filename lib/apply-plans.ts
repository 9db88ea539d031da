/**
 * Writing a bucket's plans: encryption rule, bucket policy, Block Public Access — each written only when
 * planned, in parallel, and verified by reading it back. The policy is written only if it is still the one
 * the plan was made from (bucket-state.ts `writePolicy`).
 */
import {
  type BucketRef, readEncryption, readPolicy, readPublicAccessBlock, type S3ForRegion, writeEncryption, writePolicy, writePublicAccessBlock,
} from './bucket-state';
import { errorMessage, errorName, isAccessDenied, isNoSuchBucket, isTransient } from './aws-errors';
import type { EncryptionRule } from './encryption';
import { type Violation, violation as failure } from './evaluate';
import type { Action, Finding } from './finding';
import { GUARD_SID_PREFIX, type GuardrailResult } from './guardrails';
import { deniedGuardrailWrite, type GuardrailWrite } from './write-denials';

const sameRule = (planned: EncryptionRule, actual: EncryptionRule | undefined): boolean =>
  actual !== undefined
  && actual.algorithm === planned.algorithm
  && (actual.kmsKeyId ?? '') === (planned.kmsKeyId ?? '')
  && (planned.bucketKeyEnabled === undefined || (actual.bucketKeyEnabled ?? false) === planned.bucketKeyEnabled)
  // S3 returns BlockedEncryptionTypes where set; when the field is absent it cannot be compared.
  && (actual.blockedEncryptionTypes === undefined || planned.blockedEncryptionTypes === undefined
    || actual.blockedEncryptionTypes.join() === planned.blockedEncryptionTypes.join());

const guardSids = (text: string | null | undefined): string[] => {
  try {
    const statements = text ? [(JSON.parse(text) as { Statement?: unknown }).Statement ?? []].flat() as { Sid?: unknown }[] : [];
    return statements.map((s) => String(s.Sid ?? '')).filter((sid) => sid.startsWith(GUARD_SID_PREFIX)).sort();
  } catch {
    return [];
  }
};
export const parsedPolicy = (text: string | null | undefined): unknown => {
  try {
    return text ? JSON.parse(text) as unknown : null;
  } catch {
    return text; // not JSON: shown as it is
  }
};

export interface Plans {
  encryption?: EncryptionRule;
  guardrails: GuardrailResult;
}

export type Applied = { action: Action; violations: Violation[]; fields: Partial<Finding> } | { gone: true };

export const applyPlans = async (s3: S3ForRegion, at: BucketRef, plans: Plans, policyBefore: string | null | undefined): Promise<Applied> => {
  const violations: Violation[] = [];
  const fields: Partial<Finding> = {};
  let failed = false;
  let written = 0;
  const write = async (what: string, run: () => Promise<void>): Promise<void> => {
    try {
      await run();
      written++;
    } catch (error) {
      if (isTransient(error) || isNoSuchBucket(error)) throw error;
      // A guardrail setting the organisation owns, or a public policy S3 refuses, is a finding, not a failure.
      const owned = isAccessDenied(error) && what !== 'PutBucketEncryption' ? deniedGuardrailWrite(what as GuardrailWrite, errorMessage(error)) : undefined;
      failed ||= !owned;
      violations.push(owned ?? failure(isAccessDenied(error) ? 'ACCESS_DENIED' : 'WRITE_FAILED', `${what} failed: ${errorName(error)}: ${errorMessage(error)}`));
    }
  };
  const mismatch = (what: string): void => {
    failed = true;
    violations.push(failure('VERIFY_MISMATCH', `the ${what} read back differs from what was written: another writer may have changed it`));
  };
  const { encryption, guardrails: { policyPlan, publicAccessBlockPlan } } = plans;
  try {
    await Promise.all([
      encryption && write('PutBucketEncryption', async () => {
        await writeEncryption(s3, at, encryption);
        const after = await readEncryption(s3, at);
        fields.after = after ?? null;
        if (!sameRule(encryption, after)) mismatch('encryption rule');
      }),
      policyPlan && write(policyPlan.text === null ? 'DeleteBucketPolicy' : 'PutBucketPolicy', async () => {
        await writePolicy(s3, at, policyPlan.text, policyBefore ?? null);
        const after = await readPolicy(s3, at);
        fields.policyAfter = parsedPolicy(after);
        if (guardSids(after).join() !== guardSids(policyPlan.text).join()) mismatch('bucket policy');
      }),
      publicAccessBlockPlan && write('PutPublicAccessBlock', async () => {
        await writePublicAccessBlock(s3, at, publicAccessBlockPlan);
        const after = await readPublicAccessBlock(s3, at);
        fields.publicAccessBlockAfter = after;
        if (Object.values(after ?? {}).filter((v) => v === true).length !== 4) mismatch('Block Public Access configuration');
      }),
    ]);
  } catch (error) {
    if (isNoSuchBucket(error)) return { gone: true };
    throw error;
  }
  return { action: failed ? 'FAILED' : written > 0 ? 'REMEDIATED' : 'SKIPPED', violations, fields };
};
