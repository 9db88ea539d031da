/**
 * One bucket, start to end: read its state (in parallel, only what the settings need), decide with
 * `evaluate` and `evaluateGuardrails`, write what differs, verify, and return the outcome. Throws only
 * errors worth retrying later (throttling, 5xx, timeouts, a bucket that keeps changing under the guard):
 * the caller's queue retries those; every other outcome is a finding, a duplicate delivery, or a bucket
 * that is gone.
 *
 * What the guard writes is conditional on what it decided: the setting is re-read just before its write,
 * and if it changed, the bucket is evaluated again from the new state (at most MAX_ATTEMPTS times). A key
 * about to be written is described fresh, never from the cache.
 */
import { randomUUID } from 'node:crypto';
import { applyPlans, type ApplyOptions, type BucketSetting, parsedPolicy, type Plans, type Snapshot } from './apply-plans';
import { BucketGoneError, type BucketRef, type ExtraReads, readBucketState, readPolicy, type S3ForRegion, unlessDenied } from './bucket-state';
import { errorMessage, errorName, isAccessDenied, isNoSuchBucket, isTransient } from './aws-errors';
import { settingChangedBy } from './cloudtrail-event';
import type { GuardConfig } from './config';
import type { EncryptionRule } from './encryption';
import { evaluate, keysToDescribe, listedKeyFor, type Verdict, type Violation, violation as failure } from './evaluate';
import { exposureOf } from './exposure';
import type { Finding, RuleView, Trigger } from './finding';
import { evaluateGuardrails, type GuardrailResult } from './guardrails';
import { type FlapLedger, flapState } from './flap-ledger';
import type { KeyAliases, KeyAliasesFn } from './key-aliases';
import type { KeyFacts } from './key-checks';
import type { DescribeKeyFn } from './key-lookup';
import { keyRefLocation } from './kms-arn';
import { isKmsRewrite, rewriteBlockers, unknownOutsiders, withheld } from './kms-rewrite';
import { KMS_MODES, LISTED_KEY_MODES } from './modes';
import { outsideAccess } from './policy/outside-access';
import { type Requirement, resolveRequirement } from './requirement';
import { REFUSED_SETTING_CODES } from './write-denials';

export interface GuardDeps {
  config: GuardConfig;
  s3: S3ForRegion;
  describeKey: DescribeKeyFn;
  keyAliases: KeyAliasesFn;
  /** Absent: no flap protection (no table configured). */
  ledger?: FlapLedger;
  now?: () => number;
  /** Waits between verifying reads (tests pass a fake). */
  sleep?: ApplyOptions['sleep'];
}

export interface EnforceRequest {
  bucket: string;
  /** Best knowledge of the bucket's region; corrected by S3's redirect. */
  region: string;
  accountId: string;
  /** The partition of the guard's own ARN (`aws`, `aws-cn`, ...): bucket ARNs in policies use it. */
  partition?: string;
  trigger: Trigger;
}

export type Outcome =
  /** `retryLater`: the finding stands, and the bucket is worth another look (a write not yet visible). */
  | { kind: 'finding'; finding: Finding; retryLater?: string }
  /** Another delivery of the same event holds the claim: this one wrote nothing and reports nothing. */
  | { kind: 'duplicate'; bucket: string; eventId: string }
  /** The bucket does not exist (never did, or was deleted before or while the guard handled it). */
  | { kind: 'gone'; bucket: string; detail: string };

/** Evaluations of one bucket in one run when it keeps changing under the guard; then the queue retries. */
export const MAX_ATTEMPTS = 3;

/** A late policy read failed for a reason that is not transient: reported as a read failure, not a key one. */
class LateReadError extends Error {
  constructor(readonly cause: unknown) {
    super(`reading the bucket policy failed: ${errorName(cause)}: ${errorMessage(cause)}`);
    this.name = 'LateReadError';
  }

  violation(): Violation {
    return failure('READ_FAILED', this.message);
  }
}

/** The bucket changed under the guard at every attempt: worth a later retry, not a finding. */
export class BucketBusyError extends Error {
  readonly $retryable = {};
  constructor(bucket: string) {
    super(`the configuration of ${bucket} changed ${MAX_ATTEMPTS} times while the guard evaluated it; nothing more was written, it will be evaluated again`);
    this.name = 'BucketBusyError';
  }
}

/**
 * The reads every bucket needs besides encryption and tags; a setting that is off costs no call. (In a KMS
 * mode the policy is read only once a rewrite is planned: see `judge` in `enforceBucket`.)
 */
const extraReads = (config: GuardConfig): ExtraReads => {
  const { PUBLIC_ACCESS_BLOCK, REQUIRE_TLS, REQUIRE_SIGV4, DENY_WEAKER_UPLOADS } = config.guardrails;
  return {
    policy: [REQUIRE_TLS, REQUIRE_SIGV4, DENY_WEAKER_UPLOADS].some((setting) => setting !== 'off'),
    publicAccessBlock: PUBLIC_ACCESS_BLOCK !== 'off',
    // A website endpoint answers over HTTP only: it decides whether TLS can be required.
    website: REQUIRE_TLS !== 'off',
  };
};

/** The listed key whose aliases the upload statements must allow, when they may be written. */
const aliasesNeeded = (config: GuardConfig, requirement: Requirement, region: string): string | undefined =>
  requirement.kind === 'mode' && requirement.mode !== 'SSE_C' && LISTED_KEY_MODES.has(requirement.mode) && config.guardrails.DENY_WEAKER_UPLOADS !== 'off'
    ? listedKeyFor(region, config.kmsKeyArns) : undefined;

/** The listed key if the bucket's (planned or current) rule uses it, by ARN or by the id KMS resolved. */
const keyInUse = (rule: EncryptionRule | undefined, listed: string | undefined, keys: ReadonlyMap<string, KeyFacts>): string | undefined => {
  const ref = rule?.kmsKeyId;
  if (!listed || !ref) return undefined;
  const facts = keys.get(ref);
  return ref === listed || (facts?.found && facts.arn === listed) ? listed : undefined;
};

/** Guardrails that could not be checked because a read was denied: a violation where they are enforced. */
const unreadable = (
  config: GuardConfig, requirement: Requirement,
  read: { publicAccessBlock: unknown; policy: string | null | undefined; website: boolean | 'unknown'; aliases: KeyAliases | undefined },
): Violation[] => {
  if (requirement.kind !== 'mode') return [];
  const { PUBLIC_ACCESS_BLOCK, REQUIRE_TLS, DENY_WEAKER_UPLOADS, ...policySettings } = config.guardrails;
  const found: Violation[] = [];
  const note = (code: Violation['code'], enforced: boolean, what: string): void => {
    found.push({ code, severity: enforced ? 'violation' : 'warning', detail: `${what} could not be read (access denied): its guardrails were not checked` });
  };
  if (PUBLIC_ACCESS_BLOCK !== 'off' && read.publicAccessBlock === undefined) note('PUBLIC_ACCESS_BLOCK_UNREADABLE', PUBLIC_ACCESS_BLOCK === 'enforce', 'Block Public Access');
  const sseCDeny = requirement.mode === 'SSE_C' && requirement.sseCDeny === true;
  const policyGuardrails = [REQUIRE_TLS, DENY_WEAKER_UPLOADS, ...Object.values(policySettings)];
  if (read.policy === undefined && (sseCDeny || policyGuardrails.some((s) => s !== 'off'))) {
    note('POLICY_UNREADABLE', sseCDeny || policyGuardrails.includes('enforce'), 'the bucket policy');
  }
  if (read.website === 'unknown') note('WEBSITE_UNREADABLE', REQUIRE_TLS === 'enforce', 'the website configuration (an HTTP-only website cannot require TLS)');
  if (read.aliases === 'unknown') note('KEY_ALIASES_UNREADABLE', DENY_WEAKER_UPLOADS === 'enforce', 'the aliases of the listed key (kms:ListAliases; uploads may name the key by alias)');
  return found;
};

/** What the guard makes of one snapshot of the bucket. */
interface Decision {
  verdict: Verdict;
  violations: Violation[];
  plans: Plans;
  /** The settings the plans write. */
  writes: BucketSetting[];
  /** The plan fields of the finding (what would be or is written). */
  planned: Partial<Finding>;
  /** A KMS rewrite is planned and the policy was not read: read it, and decide again (withheld meanwhile). */
  needsPolicy?: true;
}

interface Context {
  request: EnforceRequest;
  deps: GuardDeps;
  region: string;
  requirement: Requirement;
  /** Whether the bucket serves a static website (`unknown`: the read was denied; false when not read). */
  website: boolean | 'unknown';
  /** Whether the snapshot's policy is what a read returned (`undefined` then means the read was denied). */
  policyRead: boolean;
}

/** Evaluates one snapshot; key facts come from the lookup (cached unless `fresh` names the key). */
const decide = async (context: Context, current: Snapshot, fresh?: string): Promise<Decision> => {
  const { request, deps: { config, describeKey, keyAliases }, region, requirement } = context;
  const evaluationBase = { region, accountId: request.accountId, requirement, encryption: current.encryption, config };
  const refs = keysToDescribe(evaluationBase);
  const where = (ref: string): string => keyRefLocation(ref, region, request.accountId).region;
  const aliasKey = aliasesNeeded(config, requirement, region);
  const [freshFacts, aliases, ...facts] = await Promise.all([
    fresh ? describeKey(fresh, where(fresh), { fresh: true }) : undefined,
    aliasKey ? keyAliases(aliasKey, request.accountId) : undefined,
    ...refs.map((ref) => (ref === fresh ? undefined : describeKey(ref, where(ref)))),
  ]);
  // The key about to be written stands for every reference to it (the bucket may name it by id or alias).
  const keys = new Map(refs.map((ref, index) => {
    const known = facts[index];
    return [ref, freshFacts && (ref === fresh || (known?.found && known.arn === fresh)) ? freshFacts : known!];
  }));
  const kmsMode = requirement.kind === 'mode' && KMS_MODES.has(requirement.mode);
  let evaluation = evaluate({
    ...evaluationBase, keys,
    ...(kmsMode && current.policy !== undefined ? { policyGrantees: outsideAccess(current.policy, request.accountId).filter((o) => o.writes).map((o) => o.principal) } : {}),
  });
  // A KMS rewrite must not lock out writers or readers outside the account; until the policy is read, it is withheld.
  let withholding = false;
  const rewriteToCheck = requirement.kind === 'mode' && !requirement.kmsRewriteAccepted && isKmsRewrite(evaluation);
  const needsPolicy = rewriteToCheck && !context.policyRead;
  if (rewriteToCheck) {
    const blockers = current.policy === undefined
      ? [unknownOutsiders(requirement.mode)]
      : rewriteBlockers(outsideAccess(current.policy, request.accountId), requirement.mode, evaluation.plan?.kmsKeyId);
    if (blockers.length > 0) {
      evaluation = withheld(evaluation, blockers);
      withholding = true;
    }
  }
  const listedInUse = keyInUse(evaluation.plan ?? current.encryption, listedKeyFor(region, config.kmsKeyArns), keys);
  const guardrailResult: GuardrailResult = requirement.kind === 'mode'
    ? evaluateGuardrails({
      bucket: request.bucket, region, partition: request.partition, mode: requirement.mode, settings: config.guardrails,
      keyArn: listedInUse,
      policy: current.policy, publicAccessBlock: current.publicAccessBlock, website: context.website,
      ...(aliases !== undefined ? { keyAliases: aliases } : {}), sseCDeny: requirement.sseCDeny === true, sseCAllowed: config.blockSseC === 'allow',
    })
    : { violations: [] };
  // A withheld rewrite leaves the bucket exactly as it is: the guardrails are reported, not written.
  const guardrails: GuardrailResult = withholding ? { violations: guardrailResult.violations } : guardrailResult;
  const guardrailViolations = [...guardrails.violations, ...unreadable(config, requirement, {
    publicAccessBlock: current.publicAccessBlock, policy: current.policy, website: context.website, aliases: listedInUse ? aliases : undefined,
  })];
  const violations = [...evaluation.violations, ...guardrailViolations];
  const plans: Plans = { ...(evaluation.plan ? { encryption: evaluation.plan } : {}), guardrails };
  const writes: BucketSetting[] = [
    ...(plans.encryption ? ['encryption' as const] : []),
    ...(guardrails.policyPlan ? ['policy' as const] : []),
    ...(guardrails.publicAccessBlockPlan ? ['publicAccessBlock' as const] : []),
  ];
  const guardrailViolated = guardrailViolations.some((v) => v.severity === 'violation');
  const verdict: Verdict = evaluation.verdict === 'ERROR' ? 'ERROR' : writes.length > 0 || guardrailViolated ? 'NONCOMPLIANT' : evaluation.verdict;
  const planned = {
    ...(plans.encryption ? { plan: plans.encryption } : {}),
    ...(guardrails.policyPlan ? { policyBefore: parsedPolicy(current.policy), policyPlan: guardrails.policyPlan.document } : {}),
    ...(guardrails.publicAccessBlockPlan ? { publicAccessBlockBefore: current.publicAccessBlock ?? null } : {}),
  };
  return { verdict, violations, plans, writes, planned, ...(needsPolicy ? { needsPolicy: true as const } : {}) };
};

/**
 * Asked only when the guard is about to write. An event's delivery claims the event (a duplicate delivery
 * stops here); a bucket past the threshold is left alone. Only writes that undo the event's own change
 * count against its actor, in rounds (flap-ledger.ts `fightsIn`).
 */
const consultLedger = async (deps: GuardDeps, request: EnforceRequest, at: number, runId: string, undoes: BucketSetting | undefined):
  Promise<{ duplicate?: true; stop?: Violation; warning?: Violation }> => {
  const { ledger, config: { flap } } = deps;
  if (!ledger) return {};
  const { trigger } = request;
  const outcome = trigger.type === 'event' && trigger.eventId !== undefined
    ? await ledger.claim(request.bucket, trigger.eventId, at, runId)
    : await ledger.recent(request.bucket);
  if (outcome.status === 'duplicate') return { duplicate: true };
  if (outcome.status === 'unavailable') {
    return { warning: { code: 'LEDGER_UNAVAILABLE', severity: 'warning', detail: `the flap ledger could not be used (${outcome.reason}); enforced without flap protection` } };
  }
  const undoing = undoes && trigger.type === 'event' && trigger.actor ? { actor: trigger.actor, changedAt: changedAt(trigger, at), setting: undoes } : undefined;
  const state = flapState({ entries: outcome.entries, now: at, windowMs: flap.windowMinutes * 60_000, threshold: flap.threshold, ...(undoing ? { undoing } : {}) });
  if (!state.flapping) return {};
  const who = state.actors.join(', ');
  return {
    stop: {
      code: 'FLAPPING', severity: 'violation',
      detail: undoing
        ? `within ${flap.windowMinutes} min the guard has undone ${state.rounds - 1} separate changes by ${who} (${state.writes} writes); this change, the ${state.rounds}th, is left as it is until the window passes — align that automation with the required mode, or exempt the bucket`
        : `within ${flap.windowMinutes} min the guard has undone ${state.rounds} separate changes by ${who} (${state.writes} writes); the bucket is left as it is until the window passes — align that automation with the required mode, or exempt the bucket`,
    },
  };
};

/** When the trigger's change was made: the event's time, else now. */
const changedAt = (trigger: Trigger, fallback: number): number => {
  const parsed = trigger.type === 'event' && trigger.eventTime ? Date.parse(trigger.eventTime) : Number.NaN;
  return Number.isFinite(parsed) ? parsed : fallback;
};

export const enforceBucket = async (request: EnforceRequest, deps: GuardDeps): Promise<Outcome> => {
  const now = deps.now ?? Date.now;
  const started = now();
  const { config, s3 } = deps;
  const base = { schemaVersion: 1 as const, bucket: request.bucket, account: request.accountId, region: request.region, trigger: request.trigger };
  const done = (fields: Omit<Finding, keyof typeof base | 'durationMs'> & { region?: string }, retryLater?: string): Outcome => {
    const finished = now();
    // Exposure ends when the fix is verified: REMEDIATED, and nothing written still waiting to be visible.
    const exposure = exposureOf(request.trigger, started, finished, fields.action === 'REMEDIATED' && !retryLater);
    return { kind: 'finding', finding: { ...base, ...fields, durationMs: finished - started, ...exposure }, ...(retryLater ? { retryLater } : {}) };
  };
  const gone = (when: string): Outcome => ({ kind: 'gone', bucket: request.bucket, detail: `the bucket does not exist (${when} the guard handled it)` });

  const reads = extraReads(config);
  const ref: BucketRef = { bucket: request.bucket, region: request.region, owner: request.accountId };
  let state;
  try {
    state = await readBucketState(s3, ref, reads);
  } catch (error) {
    if (error instanceof BucketGoneError) return gone('deleted or never created before');
    if (isTransient(error)) throw error;
    const violation = isAccessDenied(error)
      ? failure('ACCESS_DENIED', `reading the bucket was denied (${errorName(error)}): the guard's role lacks access, an SCP or bucket policy denies it, or the bucket belongs to another account`)
      : failure('READ_FAILED', `reading the bucket failed: ${errorName(error)}: ${errorMessage(error)}`);
    return done({ verdict: 'ERROR', action: 'FAILED', violations: [violation] });
  }

  const at: BucketRef = { ...ref, region: state.region };
  const requirement = resolveRequirement(request.bucket, state.tags, config);
  let known = { region: state.region, before: (state.encryption ?? null) as RuleView, ...(requirement.kind === 'mode' ? { mode: requirement.mode, modeSource: requirement.source } : {}) };
  if (requirement.kind === 'exempt') return done({ ...known, verdict: 'EXEMPT', action: 'NONE', exemptReason: requirement.reason, violations: [] });

  // The policy may matter only now that the bucket's own mode is known (an SSE_C mode tag).
  const modeNeedsPolicy = requirement.kind === 'mode' && requirement.mode === 'SSE_C' && !reads.policy;
  let context: Context = {
    request, deps, region: state.region, requirement, website: reads.website ? state.website ?? 'unknown' : false, policyRead: reads.policy || modeNeedsPolicy,
  };
  let current: Snapshot = { encryption: state.encryption, policy: state.policy, publicAccessBlock: state.publicAccessBlock };
  /** The policy, read late (an SSE_C mode tag, or the first KMS rewrite planned); its failures are read failures. */
  const readLate = async (): Promise<string | null | undefined> => {
    try {
      return await unlessDenied(readPolicy(s3, at));
    } catch (error) {
      if (isTransient(error)) throw error;
      throw new LateReadError(error);
    }
  };
  if (modeNeedsPolicy) {
    try {
      const policy = await readLate();
      if (policy !== undefined) current = { ...current, policy };
    } catch (error) {
      if (!(error instanceof LateReadError)) throw error;
      return isNoSuchBucket(error.cause) ? gone('deleted before') : done({ ...known, verdict: 'ERROR', action: 'FAILED', violations: [error.violation()] });
    }
  }

  /** Decides; the first KMS rewrite planned reads the policy, to find who outside the account it would lock out. */
  const decideReading = async (fresh?: string): Promise<Decision> => {
    const decided = await decide(context, current, fresh);
    if (!decided.needsPolicy) return decided;
    current = { ...current, policy: await readLate() };
    context = { ...context, policyRead: true };
    return decide(context, current, fresh);
  };
  const judge = async (fresh?: string): Promise<Decision | Outcome> => {
    try {
      return await decideReading(fresh);
    } catch (error) {
      if (isTransient(error)) throw error;
      if (error instanceof LateReadError) return isNoSuchBucket(error.cause) ? gone('deleted before') : done({ ...known, verdict: 'ERROR', action: 'FAILED', violations: [error.violation()] });
      return done({ ...known, verdict: 'ERROR', action: 'FAILED', violations: [failure('FOREIGN_OR_UNUSABLE_KEY', `checking keys failed: ${errorName(error)}`)] });
    }
  };
  const first = await judge();
  if ('kind' in first) return first;
  let decision = first;

  // An ERROR means the bucket could not be judged: nothing at all is written to it.
  const verdictOnly = (d: Decision): Outcome | undefined => {
    if (d.verdict === 'ERROR') return done({ ...known, verdict: d.verdict, violations: d.violations, action: 'SKIPPED' });
    if (d.writes.length === 0) return done({ ...known, verdict: d.verdict, violations: d.violations, action: d.verdict === 'NONCOMPLIANT' ? 'SKIPPED' : 'NONE' });
    return undefined;
  };
  const settled = verdictOnly(decision);
  if (settled) return settled;
  if (config.dryRun) return done({ ...known, verdict: decision.verdict, violations: decision.violations, action: 'WOULD_REMEDIATE', ...decision.planned });

  const trigger = request.trigger;
  const undone = trigger.type === 'event' ? settingChangedBy(trigger.eventName) : undefined;
  const runId = randomUUID(); // this delivery's own claim token
  /**
   * Every write of this delivery, over all attempts: the finding reports them all. `refused`: settings the
   * organisation (or BlockPublicPolicy) refused (write-denials.ts), reported but not failed.
   */
  const run = { written: [] as BucketSetting[], refused: [] as BucketSetting[], pending: [] as BucketSetting[], notes: [] as Violation[], fields: {} as Partial<Finding> };
  let found = decision; // the decision that led to the first write: what was wrong
  let ledger: Awaited<ReturnType<typeof consultLedger>> | undefined;

  /**
   * The finding after writing: REMEDIATED only when nothing enforced remains unmet in the state as now
   * known (judged again, no call: the keys are cached); otherwise FAILED, naming what remains. What the
   * organisation refused is reported, not failed: SKIPPED when nothing else was written.
   */
  const complete = async (): Promise<Outcome> => {
    const judged = await judge();
    const excused = new Set(run.refused.flatMap((setting) => REFUSED_SETTING_CODES[setting] ?? []));
    const remaining = 'kind' in judged ? [] : judged.violations.filter((v) => v.severity === 'violation' && !excused.has(v.code));
    const failed = run.notes.some((v) => v.severity === 'violation' && !excused.has(v.code));
    const action = failed || remaining.length > 0 ? 'FAILED' : run.written.length > 0 ? 'REMEDIATED' : run.refused.length > 0 ? 'SKIPPED' : 'FAILED';
    const unresolved = [...new Set(remaining.map((v) => v.code))];
    if (deps.ledger && undone && run.written.includes(undone) && trigger.type === 'event' && trigger.actor && trigger.eventId) {
      const at = now();
      await deps.ledger.recordWrite(request.bucket, { at, eventId: trigger.eventId, actor: trigger.actor, changedAt: changedAt(trigger, at), setting: undone });
    }
    const seen = new Set(found.violations.map((v) => `${v.code} ${v.detail}`));
    return done({
      ...known, verdict: 'NONCOMPLIANT', action,
      violations: [...found.violations, ...remaining.filter((v) => !seen.has(`${v.code} ${v.detail}`)), ...run.notes],
      ...found.planned, ...run.fields, ...(unresolved.length > 0 ? { unresolved } : {}),
    }, run.pending.length > 0 ? `the ${run.pending.join(', ')} written is not visible yet` : undefined);
  };

  const freshKeys = new Set<string>();
  for (let attempt = 1; ; attempt++) {
    // The key about to be written is checked fresh: a key disabled a minute ago must not be applied.
    const key = decision.plans.encryption?.kmsKeyId;
    if (key && !freshKeys.has(key)) {
      freshKeys.add(key);
      const judged = await judge(key);
      if ('kind' in judged) return judged;
      decision = judged;
    }
    // Nothing (more) to write: before any write, the decision is the finding (the owner may have put a
    // stronger rule in place meanwhile); after one, the writes are.
    if (run.written.length === 0) {
      const stop = verdictOnly(decision);
      if (stop) return stop;
      found = decision;
    } else if (decision.verdict === 'ERROR') {
      // Judged again after a write, the bucket can no longer be judged (another writer put a foreign key
      // on it, say): nothing more is written; the finding shows what was.
      return done({ ...known, verdict: 'ERROR', violations: [...decision.violations, ...run.notes], action: 'FAILED', ...found.planned, ...run.fields });
    } else if (decision.writes.length === 0) return complete();
    if (attempt > MAX_ATTEMPTS) {
      if (run.written.length > 0) return complete();
      throw new BucketBusyError(request.bucket);
    }

    if (!ledger) {
      ledger = await consultLedger(deps, request, now(), runId, undone !== undefined && decision.writes.includes(undone) ? undone : undefined);
      if (ledger.warning) run.notes.push(ledger.warning);
    }
    if (ledger.duplicate && trigger.type === 'event' && trigger.eventId) return { kind: 'duplicate', bucket: request.bucket, eventId: trigger.eventId };
    if (ledger.stop) return done({ ...known, verdict: decision.verdict, violations: [...decision.violations, ledger.stop], action: 'SKIPPED', ...decision.planned });

    const applied = await applyPlans(s3, at, decision.plans, current, { ...(deps.sleep ? { sleep: deps.sleep } : {}) });
    if (applied.outcome === 'gone') return gone('deleted while');
    run.written.push(...applied.written);
    run.refused.push(...applied.refused);
    run.pending.push(...applied.pending);
    run.notes.push(...applied.violations);
    run.fields = { ...run.fields, ...applied.fields };
    current = applied.state;
    if (applied.outcome === 'applied') return complete();
    // A setting changed under the guard: decide again from what the bucket holds now.
    if (run.written.length === 0) known = { ...known, before: current.encryption ?? null };
    const judged = await judge();
    if ('kind' in judged) return judged;
    decision = judged;
  }
};

/** The finding of an outcome that must have one (scripts and tests); anything else is a bug there. */
export const findingOf = (outcome: Outcome): Finding => {
  if (outcome.kind !== 'finding') throw new Error(`${outcome.bucket} was not evaluated (${outcome.kind})`);
  return outcome.finding;
};
