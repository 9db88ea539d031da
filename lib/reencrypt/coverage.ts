/**
 * Which buckets' objects are re-keyed, and to what. Pure.
 *
 * `UpdateObjectEncryption` has one kind of target: SSE-KMS with a key ARN, by default of the bucket owner's
 * account (keys of other accounts of an organisation only after AWS Support enables it). SSE-S3 and DSSE-KMS
 * targets, like SSE-C, need a copy of the data: the guard reports them and never copies.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_UpdateObjectEncryption.html
 */
import { type GuardConfig, REENCRYPT_VALUES, type ReencryptSetting } from '../config';
import { listedKeyFor } from '../evaluate';
import { parseKeyArn } from '../kms-arn';
import { type EncryptionMode, KMS_MODES } from '../modes';

/** Tag that sets a bucket's re-keying, overriding `REENCRYPT_OBJECTS` (it cannot turn it on where the param is off: nothing is deployed). */
export const REENCRYPT_TAG = 'encryption-guard:reencrypt';

export interface Coverage {
  setting: ReencryptSetting;
  source: 'tag' | 'account';
  /** A tag value that is not a setting: the account setting applies, and the finding says so. */
  invalidTag?: string;
}

export const reencryptCoverage = (tags: Readonly<Record<string, string>>, config: Pick<GuardConfig, 'reencrypt' | 'dryRun'>): Coverage => {
  const account = config.reencrypt.objects;
  // Under DRY_RUN the guard changes nothing: enforce becomes an estimate.
  const safe = (setting: ReencryptSetting): ReencryptSetting => (config.dryRun && setting === 'enforce' ? 'report' : setting);
  if (account === 'off') return { setting: 'off', source: 'account' };
  const tagged = tags[REENCRYPT_TAG]?.trim();
  if (tagged === undefined) return { setting: safe(account), source: 'account' };
  const setting = REENCRYPT_VALUES.find((value) => value === tagged);
  return setting ? { setting: safe(setting), source: 'tag' } : { setting: safe(account), source: 'account', invalidTag: tagged };
};

/** Why no object of a bucket can be re-keyed in place: its target is one `UpdateObjectEncryption` cannot write. */
export type TargetProblem = 'DSSE_TARGET' | 'AWS_MANAGED_TARGET' | 'NO_KEY_FOR_REGION' | 'CROSS_ACCOUNT_TARGET_KEY';

export type Target =
  | { kind: 'kms'; keyArn: string; bucketKeyEnabled: boolean }
  | { kind: 'unsupported'; problem: TargetProblem; detail: string };

/** Only the KMS modes have objects to re-key; SSE_S3 and SSE_C buckets are never handed over. */
export const hasObjectsToRekey = (mode: EncryptionMode | undefined): boolean => mode !== undefined && KMS_MODES.has(mode);

export const targetFor = (mode: EncryptionMode, region: string, accountId: string, config: Pick<GuardConfig, 'kmsKeyArns' | 'bucketKeyEnabled'>): Target => {
  if (mode === 'DSSE_KMS') {
    return { kind: 'unsupported', problem: 'DSSE_TARGET', detail: 'UpdateObjectEncryption cannot write DSSE-KMS: objects need a copy to move to it (not done by the guard)' };
  }
  if (mode !== 'SSE_KMS_CUSTOMER_MANAGED') {
    return { kind: 'unsupported', problem: 'AWS_MANAGED_TARGET', detail: `mode ${mode} has no listed customer managed key: the guard re-keys objects only to the key KMS_KEY_ARN lists` };
  }
  const keyArn = listedKeyFor(region, config.kmsKeyArns);
  if (!keyArn) return { kind: 'unsupported', problem: 'NO_KEY_FOR_REGION', detail: `KMS_KEY_ARN lists no key in ${region}` };
  if (parseKeyArn(keyArn)?.accountId !== accountId) {
    return {
      kind: 'unsupported', problem: 'CROSS_ACCOUNT_TARGET_KEY',
      detail: `the listed key ${keyArn} belongs to another account: UpdateObjectEncryption accepts only keys of the bucket owner's account unless AWS Support enables keys of the organisation`,
    };
  }
  return { kind: 'kms', keyArn, bucketKeyEnabled: config.bucketKeyEnabled };
};
