/** What a bucket is required to have: its mode tag, the account mode, or an exemption. Pure. */
import type { GuardConfig } from './config';
import { type EncryptionMode, isBucketMode, MODE_TAG, STACK_NAME_TAG } from './modes';

export type ModeSource = 'tag' | 'account';

export type Requirement =
  | { kind: 'mode'; mode: EncryptionMode; source: ModeSource }
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
  if (tags[config.exemptTag]?.trim().toLowerCase() === 'true') {
    return { kind: 'exempt', reason: `tag ${config.exemptTag}=true` };
  }
  const glob = matchesAny(bucket, config.exemptBuckets);
  if (glob) return { kind: 'exempt', reason: `EXEMPT_BUCKETS entry "${glob}"` };

  const tagged = tags[MODE_TAG];
  if (tagged === undefined) return { kind: 'mode', mode: config.mode, source: 'account' };
  const mode = tagged.trim();
  if (isBucketMode(mode)) return { kind: 'mode', mode, source: 'tag' };
  return { kind: 'invalid', detail: `tag ${MODE_TAG}="${tagged}" is not a mode; use one of SSE_S3, SSE_KMS_AWS_MANAGED, SSE_KMS_CUSTOMER_MANAGED, DSSE_KMS, SSE_C` };
};
