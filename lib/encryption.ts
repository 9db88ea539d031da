/** A bucket's default-encryption rule in the guard's own terms, and its mapping to and from S3's. */
import type { EncryptionType, ServerSideEncryption, ServerSideEncryptionConfiguration } from '@aws-sdk/client-s3';

export const SSE_S3 = 'AES256';
export const SSE_KMS = 'aws:kms';
export const DSSE_KMS = 'aws:kms:dsse';

export interface EncryptionRule {
  /** `AES256`, `aws:kms`, `aws:kms:dsse`, or anything S3 may add (`aws:fsx`, ...). */
  algorithm: string;
  /** As stored on the bucket: key ARN, key id, alias or alias ARN. Absent: the `aws/s3` key. */
  kmsKeyId?: string;
  bucketKeyEnabled?: boolean;
  /** Absent when S3 did not return the field. */
  blockedEncryptionTypes?: EncryptionType[];
}

/** The bucket's default encryption, `undefined` when it has none. */
export type BucketEncryption = EncryptionRule | undefined;

export const isKmsAlgorithm = (algorithm: string): boolean => algorithm === SSE_KMS || algorithm === DSSE_KMS;

export const fromS3 = (config: ServerSideEncryptionConfiguration | undefined): BucketEncryption => {
  // S3 accepts one rule; a rule without a default (only a bucket-key flag) means no default encryption.
  const rule = config?.Rules?.find((candidate) => candidate.ApplyServerSideEncryptionByDefault?.SSEAlgorithm);
  const byDefault = rule?.ApplyServerSideEncryptionByDefault;
  if (!rule || !byDefault?.SSEAlgorithm) return undefined;
  return {
    algorithm: byDefault.SSEAlgorithm,
    ...(byDefault.KMSMasterKeyID ? { kmsKeyId: byDefault.KMSMasterKeyID } : {}),
    ...(rule.BucketKeyEnabled !== undefined ? { bucketKeyEnabled: rule.BucketKeyEnabled } : {}),
    ...(rule.BlockedEncryptionTypes?.EncryptionType ? { blockedEncryptionTypes: rule.BlockedEncryptionTypes.EncryptionType } : {}),
  };
};

export const toS3 = (rule: EncryptionRule): ServerSideEncryptionConfiguration => ({
  Rules: [{
    ApplyServerSideEncryptionByDefault: {
      SSEAlgorithm: rule.algorithm as ServerSideEncryption,
      ...(rule.kmsKeyId ? { KMSMasterKeyID: rule.kmsKeyId } : {}),
    },
    ...(rule.bucketKeyEnabled !== undefined ? { BucketKeyEnabled: rule.bucketKeyEnabled } : {}),
    ...(rule.blockedEncryptionTypes ? { BlockedEncryptionTypes: { EncryptionType: rule.blockedEncryptionTypes } } : {}),
  }],
});

export const blocksSseC = (rule: BucketEncryption): boolean => rule?.blockedEncryptionTypes?.includes('SSE-C') ?? false;
