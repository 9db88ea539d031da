/**
 * What each finding code means, in a few plain words, for people reading a table (the demo) rather than a
 * query. The codes stay the public contract; a code that reads like its opposite (SSE_C_NOT_REQUIRED:
 * the bucket policy does not yet require SSE-C) is spelt out here. A new code does not compile without one.
 */
import type { ViolationCode } from './evaluate';

export const VIOLATION_TEXT: Record<ViolationCode, string> = {
  NO_DEFAULT_ENCRYPTION: 'no default encryption',
  ENCRYPTION_TOO_WEAK: 'encryption weaker than required',
  WRONG_KMS_KEY: 'another KMS key than the required one',
  FOREIGN_OR_UNUSABLE_KEY: 'a foreign or unusable key (never rewritten)',
  UNKNOWN_ALGORITHM: 'an algorithm the guard does not know',
  INVALID_MODE_TAG: 'a mode tag that names no mode',
  NO_KEY_FOR_REGION: 'no listed key for the bucket\'s region',
  CONFIGURED_KEY_UNUSABLE: 'the listed key is unusable',
  SSE_C_NOT_BLOCKED: 'SSE-C uploads allowed; blockSseC=block asks to block them',
  SSE_C_BLOCKED: 'SSE-C uploads blocked; mode SSE_C needs them',
  KEY_ROTATION_DISABLED: 'key rotation off',
  BUCKET_KEY_DISABLED: 'S3 Bucket Key off (a KMS request per object)',
  KMS_MAY_BREAK_WRITERS: 'KMS may break AWS services or other accounts that write here',
  ACCESS_DENIED: 'the guard was denied access',
  READ_FAILED: 'reading the bucket failed',
  WRITE_FAILED: 'writing the fix failed',
  KMS_WOULD_BREAK_WRITERS: 'a KMS rewrite withheld: writers outside the account would fail',
  KMS_WOULD_BREAK_READERS: 'a KMS rewrite withheld: readers outside the account would fail',
  TLS_NOT_ENFORCEABLE_WEBSITE: 'a static website bucket: plain HTTP cannot be denied',
  POLICY_PUBLIC_BLOCKED: 'a public policy that Block Public Access would refuse',
  OWNED_BY_ORGANIZATION: 'an organisation policy refused the guard\'s write',
  WEBSITE_UNREADABLE: 'website configuration unreadable',
  KEY_ALIASES_UNREADABLE: 'key aliases unreadable',
  VERIFY_PENDING: 'the fix is not visible yet (S3 is eventually consistent)',
  PUBLIC_ACCESS_NOT_BLOCKED: 'Block Public Access not fully on',
  TLS_NOT_REQUIRED: 'plain-HTTP requests not denied',
  SIGV4_NOT_REQUIRED: 'SigV2-signed requests not denied',
  WEAKER_UPLOADS_ALLOWED: 'uploads may ask for weaker encryption',
  SSE_C_NOT_REQUIRED: 'uploads without SSE-C not yet denied (mode SSE_C)',
  POLICY_UNREADABLE: 'bucket policy unreadable',
  POLICY_TOO_LARGE: 'merged bucket policy over 20 KB',
  PUBLIC_ACCESS_BLOCK_UNREADABLE: 'Block Public Access unreadable',
  FLAPPING: 'another automation keeps undoing the fix',
  LEDGER_UNAVAILABLE: 'flap ledger unavailable',
  MEMBER_ROLE_UNAVAILABLE: 'the hub cannot assume the account\'s member role',
};
