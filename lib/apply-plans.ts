/**
 * Writing a bucket's plans, one setting at a time, in the order that cannot collide: encryption, then the
 * bucket policy, then Block Public Access. S3 answers 409 OperationAborted to concurrent configuration
 * writes on one bucket, and refuses a public policy once BlockPublicPolicy is on.
 *
 * S3 has no conditional configuration write, so a setting that could hold someone else's stronger choice
 * (the encryption rule, the policy) is re-read just before it is written: if it changed since the
 * evaluation, nothing more is written and the caller re-evaluates from the new state. Block Public Access
 * is written without a re-read: the guard only ever turns all four flags on, which cannot weaken anything.
 * Each write is verified by reading it back; a read that still shows the old value is read again with
 * backoff, since configuration changes take time to propagate
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel).
 */
import {
  type BucketRef, readEncryption, readPolicy, readPublicAccessBlock, type S3ForRegion, writeEncryption, writePolicy, writePublicAccessBlock,
} from './bucket-state';
import { errorMessage, errorName, isAccessDenied, isNoSuchBucket, isOperationAborted, isTransient } from './aws-errors';
import type { BucketEncryption, EncryptionRule } from './encryption';
import { type Violation, violation as failure, warning } from './evaluate';
import type { Finding } from './finding';
import { ALL_BLOCKED, GUARD_SID_PREFIX, type GuardrailResult, type PublicAccessBlock } from './guardrails';
import { parsePolicy } from './policy/document';
import { deniedGuardrailWrite, type GuardrailWrite } from './write-denials';

/** The bucket settings the guard reads and writes. */
export type BucketSetting = 'encryption' | 'policy' | 'publicAccessBlock';

/** What the plans were made from, and after writing, what the bucket holds as far as the guard knows. */
export interface Snapshot {
  encryption: BucketEncryption;
  /** `null`: none; `undefined`: not read. */
  policy?: string | null;
  publicAccessBlock?: PublicAccessBlock | null;
}

export interface Plans {
  encryption?: EncryptionRule;
  guardrails: GuardrailResult;
}

export interface Applied {
  /** `changed`: a setting changed under the guard (before its write, or by another writer after it). */
  outcome: 'applied' | 'changed' | 'gone';
  /** The settings as now known: read back after each write, or the changed one's new value. */
  state: Snapshot;
  /** Settings written (the write succeeded). */
  written: BucketSetting[];
  /**
   * Settings whose write S3 refused for a reason the guard does not own: an organisation's SCP, RCP or S3
   * policy, or BlockPublicPolicy refusing a policy that someone else's statement makes public.
   */
  refused: BucketSetting[];
  /** Settings whose read-back still showed the old value after the backoff: worth a later look. */
  pending: BucketSetting[];
  violations: Violation[];
  fields: Partial<Finding>;
}

export interface ApplyOptions {
  sleep?: (ms: number) => Promise<void>;
  /** Waits before each further read-back while the old value is still read (bounded, about 4 s in all). */
  verifyDelaysMs?: readonly number[];
}

export const VERIFY_DELAYS_MS: readonly number[] = [250, 500, 1000, 2000];
/** Writes of one setting tried while S3 answers 409 OperationAborted; then the queue retries. */
const OPERATION_ABORTED_RETRIES = 3;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

const sameRule = (planned: EncryptionRule, actual: EncryptionRule | undefined): boolean =>
  actual !== undefined
  && actual.algorithm === planned.algorithm
  && (actual.kmsKeyId ?? '') === (planned.kmsKeyId ?? '')
  && (planned.bucketKeyEnabled === undefined || (actual.bucketKeyEnabled ?? false) === planned.bucketKeyEnabled)
  // S3 returns BlockedEncryptionTypes where set; when the field is absent it cannot be compared.
  && (actual.blockedEncryptionTypes === undefined || planned.blockedEncryptionTypes === undefined
    || actual.blockedEncryptionTypes.join() === planned.blockedEncryptionTypes.join());

/** The Sids of the guard's own statements in a policy text (none when it is not a policy document). */
const guardSids = (text: string | null | undefined): string[] =>
  (text ? parsePolicy(text)?.Statement ?? [] : []).map((s) => String(s.Sid ?? '')).filter((sid) => sid.startsWith(GUARD_SID_PREFIX)).sort();

export const parsedPolicy = (text: string | null | undefined): unknown => {
  try {
    return text ? JSON.parse(text) as unknown : null;
  } catch {
    return text; // not JSON: shown as it is
  }
};

/** One setting's write: how to read it, write it, and tell the planned value and an unchanged one. */
interface Step<T> {
  setting: BucketSetting;
  call: string;
  /** The value written, as a read would show it. */
  planned: T;
  /** Re-read before writing: the write could replace someone else's stronger choice. */
  reread: boolean;
  read: () => Promise<T>;
  write: () => Promise<void>;
  /** The read-back shows what was written. */
  matches: (after: T) => boolean;
  show: (after: T) => Partial<Finding>;
}

export const applyPlans = async (s3: S3ForRegion, at: BucketRef, plans: Plans, basedOn: Snapshot, options: ApplyOptions = {}): Promise<Applied> => {
  const sleep = options.sleep ?? pause;
  const delays = options.verifyDelaysMs ?? VERIFY_DELAYS_MS;
  const state: Snapshot = { ...basedOn };
  const result = (outcome: Applied['outcome']): Applied => ({ outcome, state, written, refused, pending, violations, fields });
  const written: BucketSetting[] = [];
  const refused: BucketSetting[] = [];
  const pending: BucketSetting[] = [];
  const violations: Violation[] = [];
  const fields: Partial<Finding> = {};

  const { encryption, guardrails: { policyPlan, publicAccessBlockPlan } } = plans;
  const steps: Step<unknown>[] = [];
  if (encryption) {
    steps.push({
      setting: 'encryption', call: 'PutBucketEncryption', reread: true, planned: encryption,
      read: () => readEncryption(s3, at),
      write: () => writeEncryption(s3, at, encryption),
      matches: (after) => sameRule(encryption, after as BucketEncryption),
      show: (after) => ({ after: (after as BucketEncryption) ?? null }),
    } satisfies Step<BucketEncryption> as Step<unknown>);
  }
  if (policyPlan) {
    steps.push({
      setting: 'policy', call: policyPlan.text === null ? 'DeleteBucketPolicy' : 'PutBucketPolicy', reread: true, planned: policyPlan.text,
      read: () => readPolicy(s3, at),
      write: () => writePolicy(s3, at, policyPlan.text),
      matches: (after) => guardSids(after as string | null).join() === guardSids(policyPlan.text).join(),
      show: (after) => ({ policyAfter: parsedPolicy(after as string | null) }),
    } satisfies Step<string | null> as Step<unknown>);
  }
  if (publicAccessBlockPlan) {
    steps.push({
      setting: 'publicAccessBlock', call: 'PutPublicAccessBlock', reread: false, planned: publicAccessBlockPlan,
      read: () => readPublicAccessBlock(s3, at),
      write: () => writePublicAccessBlock(s3, at, publicAccessBlockPlan),
      matches: (after) => (Object.keys(ALL_BLOCKED) as (keyof PublicAccessBlock)[]).every((flag) => (after as PublicAccessBlock | null)?.[flag] === true),
      show: (after) => ({ publicAccessBlockAfter: after as PublicAccessBlock | null }),
    } satisfies Step<PublicAccessBlock | null> as Step<unknown>);
  }

  /** A read the guard cannot do (denied, say): reported, and nothing more is written on its strength. */
  const unreadable = (what: string, error: unknown): Applied => {
    violations.push(failure(isAccessDenied(error) ? 'ACCESS_DENIED' : 'READ_FAILED', `${what} failed: ${errorName(error)}: ${errorMessage(error)}`));
    return result('applied');
  };

  try {
    for (const step of steps) {
      const before = state[step.setting];
      let wrote = false;
      for (let attempt = 1; !wrote; attempt++) {
        if (step.reread || attempt > 1) {
          let now;
          try {
            now = await step.read();
          } catch (error) {
            if (isTransient(error) || isNoSuchBucket(error)) throw error;
            return unreadable(`re-reading the ${step.setting} before ${step.call}`, error);
          }
          if (!sameJson(now, before)) {
            Object.assign(state, { [step.setting]: now });
            return result('changed');
          }
        }
        try {
          await step.write();
          wrote = true;
        } catch (error) {
          // Another writer is changing the bucket right now: wait, then re-read before writing again,
          // so that what they write is judged rather than overwritten (OPERATION_ABORTED_RETRIES at most).
          if (isOperationAborted(error) && attempt < OPERATION_ABORTED_RETRIES) {
            await sleep(250 * 2 ** attempt);
            continue;
          }
          if (isTransient(error) || isNoSuchBucket(error)) throw error;
          // A guardrail setting the organisation owns, or a public policy S3 refuses, is a finding, not a failure.
          const owned = isAccessDenied(error) && step.setting !== 'encryption' ? deniedGuardrailWrite(step.call as GuardrailWrite, errorMessage(error)) : undefined;
          if (owned) {
            violations.push(owned);
            refused.push(step.setting);
          } else {
            violations.push(failure(isAccessDenied(error) ? 'ACCESS_DENIED' : 'WRITE_FAILED', `${step.call} failed: ${errorName(error)}: ${errorMessage(error)}`));
          }
          break;
        }
      }
      if (!wrote) continue;
      written.push(step.setting);
      let after: unknown;
      try {
        after = await step.read();
      } catch (error) {
        if (isTransient(error) || isNoSuchBucket(error)) throw error;
        return unreadable(`reading the ${step.setting} back after ${step.call}`, error);
      }
      for (const delay of delays) {
        if (step.matches(after) || !sameJson(after, before)) break;
        await sleep(delay);
        after = await step.read().catch((error: unknown) => {
          if (isTransient(error) || isNoSuchBucket(error)) throw error;
          return after; // unreadable now, but read once already: judged on that
        });
      }
      Object.assign(fields, step.show(after));
      if (step.matches(after)) {
        Object.assign(state, { [step.setting]: after });
        continue;
      }
      if (sameJson(after, before)) {
        // Taken as written (S3 accepted it); the caller has the bucket looked at again to confirm.
        Object.assign(state, { [step.setting]: step.planned });
        pending.push(step.setting);
        violations.push(warning('VERIFY_PENDING', `${step.call} succeeded, but the ${step.setting} read back still shows the previous value after ${delays.reduce((a, b) => a + b, 0)} ms (S3 propagates configuration changes with a delay); the bucket will be looked at again`));
        continue;
      }
      Object.assign(state, { [step.setting]: after });
      return result('changed'); // another writer changed it right after the guard's write
    }
  } catch (error) {
    if (isNoSuchBucket(error)) return result('gone');
    throw error;
  }
  return result('applied');
};
