/** The encryption modes the guard enforces, weakest first. `SSE_C` exists only as a per-bucket mode. */
export const ACCOUNT_MODES = ['SSE_S3', 'SSE_KMS_AWS_MANAGED', 'SSE_KMS_CUSTOMER_MANAGED', 'DSSE_KMS'] as const;
export const BUCKET_MODES = [...ACCOUNT_MODES, 'SSE_C'] as const;

export type AccountMode = (typeof ACCOUNT_MODES)[number];
export type EncryptionMode = (typeof BUCKET_MODES)[number];

/** Strength of each enforceable mode: a stronger configuration satisfies a weaker requirement. */
export const STRENGTH: Record<AccountMode, number> = {
  SSE_S3: 1,
  SSE_KMS_AWS_MANAGED: 2,
  SSE_KMS_CUSTOMER_MANAGED: 3,
  DSSE_KMS: 4,
};

/** Modes that encrypt with KMS (a rewrite to one first checks who outside the account uses the bucket). */
export const KMS_MODES: ReadonlySet<EncryptionMode> = new Set(['SSE_KMS_AWS_MANAGED', 'SSE_KMS_CUSTOMER_MANAGED', 'DSSE_KMS']);

/** Modes whose compliance depends on a key listed in `KMS_KEY_ARN`. */
export const LISTED_KEY_MODES: ReadonlySet<AccountMode> = new Set(['SSE_KMS_CUSTOMER_MANAGED', 'DSSE_KMS']);

export const isAccountMode = (value: string): value is AccountMode =>
  (ACCOUNT_MODES as readonly string[]).includes(value);

export const isBucketMode = (value: string): value is EncryptionMode =>
  (BUCKET_MODES as readonly string[]).includes(value);

/** Tag that sets a bucket's required mode, overriding `ENCRYPTION_MODE`. */
export const MODE_TAG = 'encryption-guard:mode';
/** `true`: in mode SSE_C, also deny uploads without SSE-C (opt-in: every client must then resend the SSE-C headers on CompleteMultipartUpload). */
export const SSE_C_DENY_TAG = 'encryption-guard:sse-c-deny';
/** `accept`: rewrite to a KMS mode even though the bucket policy lets writers or readers outside the account in. */
export const KMS_REWRITE_TAG = 'encryption-guard:kms-rewrite';

/** CloudFormation's own tag on every bucket it creates; marks the guard's own buckets. */
export const STACK_NAME_TAG = 'aws:cloudformation:stack-name';
