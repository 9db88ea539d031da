/** The finding: one per evaluated bucket, the guard's public log contract (DESIGN.md, "Findings"). */
import type { EncryptionRule } from './encryption';
import type { Verdict, Violation, ViolationCode } from './evaluate';
import type { PublicAccessBlock } from './guardrails';
import type { EncryptionMode } from './modes';
import type { ModeSource } from './requirement';

export type Action = 'NONE' | 'REMEDIATED' | 'WOULD_REMEDIATE' | 'SKIPPED' | 'FAILED';

export type Trigger =
  | { type: 'event'; eventName: string; eventId?: string; actor?: string; eventTime?: string }
  | { type: 'sweep'; sweepId: string };

/** A rule as shown in findings: `null` when the bucket has no default encryption. */
export type RuleView = EncryptionRule | null;

export interface Finding {
  schemaVersion: 1;
  bucket: string;
  account: string;
  region: string;
  trigger: Trigger;
  mode?: EncryptionMode;
  modeSource?: ModeSource;
  verdict: Verdict;
  violations: Violation[];
  action: Action;
  /** Why the bucket is exempt, when it is. */
  exemptReason?: string;
  before?: RuleView;
  /** What the guard writes (REMEDIATED) or would write (WOULD_REMEDIATE). */
  plan?: EncryptionRule;
  /** The rule read back after a write. */
  after?: RuleView;
  /** The whole bucket policy before a policy write (`null`: none), what was written, and what was read back. */
  policyBefore?: unknown;
  policyPlan?: unknown;
  policyAfter?: unknown;
  /** Block Public Access before and after a write (`null`: none configured). */
  publicAccessBlockBefore?: PublicAccessBlock | null;
  publicAccessBlockAfter?: PublicAccessBlock | null;
  /** Enforced violations that remain after the guard's writes (the action is then FAILED). */
  unresolved?: ViolationCode[];
  durationMs: number;
}

export const FINDING_MESSAGE = 'bucket evaluated';
export const IGNORED_MESSAGE = 'event ignored';
/** A losing duplicate delivery of an event: the delivery that won logs the finding. */
export const DUPLICATE_MESSAGE = 'duplicate delivery';
/** A bucket that does not exist: nothing to evaluate, not counted as a finding. */
export const GONE_MESSAGE = 'bucket not found';
