/** What a bucket is required to have: its mode tag, the account mode, or an exemption. Pure. */
import type { GuardConfig } from './config';
import { type EncryptionMode, isBucketMode, KMS_REWRITE_TAG, MODE_TAG, SSE_C_DENY_TAG, STACK_NAME_TAG } from './modes';

export type ModeSource = 'tag' | 'account';

export type Requirement =
  | {
      kind: 'mode'; mode: EncryptionMode; source: ModeSource;
      /** Tag `encryption-guard:sse-c-deny=true`: mode SSE_C also denies uploads without SSE-C. */
      sseCDeny?: true;
      /** Tag `encryption-guard:kms-rewrite=accept`: a KMS rewrite goes ahead whoever else uses the bucket. */
      kmsRewriteAccepted?: true;
    }
  | { kind: 'exempt'; reason: string }
  | { kind: 'invalid'; detail: string };

const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.replace(/[.\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);

export const matchesAny = (name: string, globs: readonly string[]): string | undefined =>
  globs.find((glob) => globToRegExp(glob).test(name));

export const resolveRequirement = (
  bucket: string,
  tags: Readonly<Record<string, string>>,
  config: GuardConfig,
): Requirement => {
  if (config.stackName && tags[STACK_NAME_TAG] === config.stackName) {
    return { kind: 'exempt', reason: `created by the guard's own stack ${config.stackName}` };
  }
  const flag = (key: string, value: string): boolean => tags[key]?.trim().toLowerCase() === value;
  if (flag(config.exemptTag, 'true')) {
    return { kind: 'exempt', reason: `tag ${config.exemptTag}=true` };
  }
  const glob = matchesAny(bucket, config.exemptBuckets);
  if (glob) return { kind: 'exempt', reason: `EXEMPT_BUCKETS entry "${glob}"` };

  const options = {
    ...(flag(SSE_C_DENY_TAG, 'true') ? { sseCDeny: true as const } : {}),
    ...(flag(KMS_REWRITE_TAG, 'accept') ? { kmsRewriteAccepted: true as const } : {}),
  };
  const tagged = tags[MODE_TAG];
  if (tagged === undefined) return { kind: 'mode', mode: config.mode, source: 'account', ...options };
  const mode = tagged.trim();
  if (isBucketMode(mode)) return { kind: 'mode', mode, source: 'tag', ...options };
  return { kind: 'invalid', detail: `tag ${MODE_TAG}="${tagged}" is not a mode; use one of SSE_S3, SSE_KMS_AWS_MANAGED, SSE_KMS_CUSTOMER_MANAGED, DSSE_KMS, SSE_C` };
};
