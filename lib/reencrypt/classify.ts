/**
 * What one object's encryption is, and what re-keying it in place would do. Pure.
 *
 * `UpdateObjectEncryption` takes SSE-S3 and SSE-KMS sources only; unencrypted, DSSE-KMS and SSE-C sources need
 * a copy (reported, never attempted).
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/update-sse-encryption.html
 */
import { DSSE_KMS, SSE_KMS, SSE_S3 } from '../encryption';
import type { Target, TargetProblem } from './coverage';

/** The object's encryption as `HeadObject` shows it (an SSE-C object answers 400 without its key). */
export type ObjectEncryptionState =
  | { kind: 'sse-c' }
  | {
    kind: 'read'; algorithm?: string; kmsKeyId?: string; bucketKeyEnabled?: boolean;
    /** Under a legal hold or an unexpired retention: S3 refuses to change its encryption (AccessDenied). */
    locked?: boolean;
  };

export const SOURCE_KINDS = ['SSE_S3', 'SSE_KMS_OTHER_KEY', 'SSE_KMS_LISTED_KEY', 'DSSE_KMS', 'SSE_C', 'UNENCRYPTED', 'UNKNOWN'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/** Why an object is not re-keyed in place. */
export type IneligibleReason = 'UNENCRYPTED_SOURCE' | 'DSSE_SOURCE' | 'SSE_C_SOURCE' | 'UNKNOWN_SOURCE' | 'OBJECT_LOCKED' | TargetProblem;

export type Decision =
  | { action: 'update' }
  | { action: 'none' }
  | { action: 'ineligible'; reason: IneligibleReason };

export const sourceKind = (state: ObjectEncryptionState, listedKey: string | undefined): SourceKind => {
  if (state.kind === 'sse-c') return 'SSE_C';
  switch (state.algorithm) {
    case undefined: return 'UNENCRYPTED';
    case SSE_S3: return 'SSE_S3';
    case DSSE_KMS: return 'DSSE_KMS';
    case SSE_KMS: return listedKey !== undefined && state.kmsKeyId === listedKey ? 'SSE_KMS_LISTED_KEY' : 'SSE_KMS_OTHER_KEY';
    default: return 'UNKNOWN';
  }
};

const SOURCE_PROBLEMS: Partial<Record<SourceKind, IneligibleReason>> = {
  UNENCRYPTED: 'UNENCRYPTED_SOURCE',
  DSSE_KMS: 'DSSE_SOURCE',
  SSE_C: 'SSE_C_SOURCE',
  UNKNOWN: 'UNKNOWN_SOURCE',
};

/** An object already on the target key with the target's bucket-key setting needs nothing. */
export const decide = (state: ObjectEncryptionState, target: Target): { kind: SourceKind; decision: Decision } => {
  const kind = sourceKind(state, target.kind === 'kms' ? target.keyArn : undefined);
  const sourceProblem = SOURCE_PROBLEMS[kind];
  if (sourceProblem) return { kind, decision: { action: 'ineligible', reason: sourceProblem } };
  if (target.kind === 'unsupported') return { kind, decision: { action: 'ineligible', reason: target.problem } };
  if (kind === 'SSE_KMS_LISTED_KEY' && state.kind === 'read' && (state.bucketKeyEnabled ?? false) === target.bucketKeyEnabled) {
    return { kind, decision: { action: 'none' } };
  }
  // S3 refuses UpdateObjectEncryption on an object under Object Lock retention or legal hold
  // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_UpdateObjectEncryption.html): not attempted, reported.
  if (state.kind === 'read' && state.locked) return { kind, decision: { action: 'ineligible', reason: 'OBJECT_LOCKED' } };
  return { kind, decision: { action: 'update' } };
};

/** Whether HEAD's Object Lock fields (shown to callers with s3:GetObjectRetention / s3:GetObjectLegalHold) lock the object now. */
export const isLocked = (head: { ObjectLockLegalHoldStatus?: string; ObjectLockMode?: string; ObjectLockRetainUntilDate?: Date }, now: number): boolean =>
  head.ObjectLockLegalHoldStatus === 'ON' || (head.ObjectLockMode !== undefined && head.ObjectLockRetainUntilDate !== undefined && head.ObjectLockRetainUntilDate.getTime() > now);
