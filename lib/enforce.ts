/**
 * One bucket, start to end: read its state (in parallel, only what the settings need), decide with
 * `evaluate` and `evaluateGuardrails`, write what differs, verify, and return the finding. Throws only
 * errors worth retrying later (throttling, 5xx, timeouts, a policy changed under it): the caller's queue
 * retries those; every other outcome is a finding.
 */
import { applyPlans, parsedPolicy, type Plans } from './apply-plans';
import { BucketGoneError, type BucketRef, type ExtraReads, readBucketState, readPolicy, type S3ForRegion, unlessDenied } from './bucket-state';
import { errorMessage, errorName, isAccessDenied, isTransient } from './aws-errors';
import type { GuardConfig } from './config';
import type { EncryptionRule } from './encryption';
import { evaluate, keysToDescribe, listedKeyFor, type Verdict, type Violation, violation as failure } from './evaluate';
import type { Finding, RuleView, Trigger } from './finding';
import { evaluateGuardrails, type GuardrailResult } from './guardrails';
import { type FlapLedger, flapping } from './flap-ledger';
import type { KeyAliases, KeyAliasesFn } from './key-aliases';
import type { KeyFacts } from './key-checks';
import type { DescribeKeyFn } from './key-lookup';
import { keyRefLocation } from './kms-arn';
import { isKmsRewrite, rewriteBlockers, unknownOutsiders, withheld } from './kms-rewrite';
import { KMS_MODES, LISTED_KEY_MODES } from './modes';
import { outsideAccess } from './policy/outside-access';
import { type Requirement, resolveRequirement } from './requirement';

export interface GuardDeps {
  config: GuardConfig;
  s3: S3ForRegion;
  describeKey: DescribeKeyFn;
  keyAliases: KeyAliasesFn;
  /** Absent: no flap protection (no table configured). */
  ledger?: FlapLedger;
  now?: () => number;
}

export interface EnforceRequest {
  bucket: string;
  /** Best knowledge of the bucket's region; corrected by S3's redirect. */
  region: string;
  accountId: string;
  trigger: Trigger;
}


/**
 * The reads every bucket needs besides encryption and tags; a setting that is off costs no call. (In a KMS
 * mode the policy is read only when a rewrite is planned: see `enforceBucket`.)
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

const gone = (when: string): Pick<Finding, 'verdict' | 'action' | 'exemptReason' | 'violations'> => ({
  verdict: 'EXEMPT', action: 'SKIPPED', exemptReason: 'bucket no longer exists',
  violations: [{ code: 'BUCKET_NOT_FOUND', severity: 'warning', detail: `the bucket was deleted ${when} the guard handled it` }],
});

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

/**
 * Asked only when the guard is about to write. An event's remediation undoes its actor's change and is
 * counted (once per event id); a sweep's is not, but a bucket past the threshold is left alone either way.
 */
const consultLedger = async (deps: GuardDeps, request: EnforceRequest, at: number): Promise<{ stop?: Violation; warning?: Violation }> => {
  const { ledger, config: { flap } } = deps;
  if (!ledger) return {};
  const windowMs = flap.windowMinutes * 60_000;
  const { trigger } = request;
  const counted = trigger.type === 'event' && trigger.actor !== undefined && trigger.eventId !== undefined;
  const outcome = counted
    ? await ledger.record(request.bucket, { at, eventId: trigger.eventId!, actor: trigger.actor! })
    : await ledger.recent(request.bucket);
  if (outcome.status === 'duplicate') {
    return { stop: { code: 'DUPLICATE_DELIVERY', severity: 'warning', detail: 'another delivery of this event is remediating the bucket; nothing written by this one' } };
  }
  if (outcome.status === 'unavailable') {
    return { warning: { code: 'LEDGER_UNAVAILABLE', severity: 'warning', detail: `the flap ledger could not be used (${outcome.reason}); enforced without flap protection` } };
  }
  const state = flapping(outcome.entries, at, windowMs, flap.threshold, counted);
  if (!state.flapping) return {};
  return {
    stop: {
      code: 'FLAPPING', severity: 'violation',
      detail: `${state.count} remediations within ${flap.windowMinutes} min undid changes by ${state.actors.join(', ')}; the guard leaves the bucket alone until the window passes — align that automation with the required mode, or exempt the bucket`,
    },
  };
};

export const enforceBucket = async (request: EnforceRequest, deps: GuardDeps): Promise<Finding> => {
  const now = deps.now ?? Date.now;
  const started = now();
  const { config, s3 } = deps;
  const base = { schemaVersion: 1 as const, bucket: request.bucket, account: request.accountId, region: request.region, trigger: request.trigger };
  const done = (fields: Omit<Finding, keyof typeof base | 'durationMs'> & { region?: string }): Finding =>
    ({ ...base, ...fields, durationMs: now() - started });

  const reads = extraReads(config);
  const ref: BucketRef = { bucket: request.bucket, region: request.region, owner: request.accountId };
  let state;
  try {
    state = await readBucketState(s3, ref, reads);
  } catch (error) {
    if (error instanceof BucketGoneError) return done(gone('before'));
    if (isTransient(error)) throw error;
    const violation = isAccessDenied(error)
      ? failure('ACCESS_DENIED', `reading the bucket was denied (${errorName(error)}): the guard's role lacks access, an SCP or bucket policy denies it, or the bucket belongs to another account`)
      : failure('READ_FAILED', `reading the bucket failed: ${errorName(error)}: ${errorMessage(error)}`);
    return done({ verdict: 'ERROR', action: 'FAILED', violations: [violation] });
  }

  const at: BucketRef = { ...ref, region: state.region };
  const requirement = resolveRequirement(request.bucket, state.tags, config);
  const before: RuleView = state.encryption ?? null;
  const known = { region: state.region, before, ...(requirement.kind === 'mode' ? { mode: requirement.mode, modeSource: requirement.source } : {}) };
  if (requirement.kind === 'exempt') return done({ ...known, verdict: 'EXEMPT', action: 'NONE', exemptReason: requirement.reason, violations: [] });

  // The policy may matter only now that the bucket's own mode is known (an SSE_C mode tag).
  const modeNeedsPolicy = requirement.kind === 'mode' && requirement.mode === 'SSE_C' && !reads.policy;
  const evaluationBase = { region: state.region, accountId: request.accountId, requirement, encryption: state.encryption, config };
  const refs = keysToDescribe(evaluationBase);
  const aliasKey = aliasesNeeded(config, requirement, state.region);
  let keys: Map<string, KeyFacts>;
  let aliases: KeyAliases | undefined;
  let policy = state.policy;
  try {
    const [facts, lateRead, listed] = await Promise.all([
      Promise.all(refs.map((keyRef) => deps.describeKey(keyRef, keyRefLocation(keyRef, state.region, request.accountId).region))),
      modeNeedsPolicy ? unlessDenied(readPolicy(s3, at)) : undefined,
      aliasKey ? deps.keyAliases(aliasKey, request.accountId) : undefined,
    ]);
    keys = new Map(refs.map((keyRef, index) => [keyRef, facts[index]]));
    aliases = listed;
    if (lateRead !== undefined) policy = lateRead;
  } catch (error) {
    if (isTransient(error)) throw error;
    return done({ ...known, verdict: 'ERROR', action: 'FAILED', violations: [failure('FOREIGN_OR_UNUSABLE_KEY', `checking keys failed: ${errorName(error)}`)] });
  }

  const kmsMode = requirement.kind === 'mode' && KMS_MODES.has(requirement.mode);
  let evaluation = evaluate({ ...evaluationBase, keys, ...(kmsMode && policy !== undefined ? { policyGrantees: outsideAccess(policy, request.accountId).filter((o) => o.writes).map((o) => o.principal) } : {}) });
  // A KMS rewrite must not lock out writers or readers outside the account: read the policy now if it was not.
  let withholding = false;
  if (requirement.kind === 'mode' && isKmsRewrite(evaluation) && !requirement.kmsRewriteAccepted) {
    if (!reads.policy) policy = await unlessDenied(readPolicy(s3, at));
    const blockers = policy === undefined ? [unknownOutsiders(requirement.mode)] : rewriteBlockers(outsideAccess(policy, request.accountId), requirement.mode, evaluation.plan?.kmsKeyId);
    if (blockers.length > 0) {
      evaluation = withheld(evaluation, blockers);
      withholding = true;
    }
  }
  const website = reads.website ? state.website ?? 'unknown' : false;
  const guardrailResult: GuardrailResult = requirement.kind === 'mode'
    ? evaluateGuardrails({
      bucket: request.bucket, region: state.region, mode: requirement.mode, settings: config.guardrails,
      keyArn: keyInUse(evaluation.plan ?? state.encryption, listedKeyFor(state.region, config.kmsKeyArns), keys), policy, publicAccessBlock: state.publicAccessBlock,
      website, ...(aliases !== undefined ? { keyAliases: aliases } : {}), sseCDeny: requirement.sseCDeny === true, sseCAllowed: config.blockSseC === 'allow',
    })
    : { violations: [] };
  // A withheld rewrite leaves the bucket exactly as it is: the guardrails are reported, not written.
  const guardrails: GuardrailResult = withholding ? { violations: guardrailResult.violations } : guardrailResult;
  const guardrailViolations = [...guardrails.violations, ...unreadable(config, requirement, { publicAccessBlock: state.publicAccessBlock, policy, website, aliases })];
  const violations = [...evaluation.violations, ...guardrailViolations];
  const plans: Plans = { ...(evaluation.plan ? { encryption: evaluation.plan } : {}), guardrails };
  const changes = Boolean(plans.encryption || guardrails.policyPlan || guardrails.publicAccessBlockPlan);
  const guardrailViolated = guardrailViolations.some((v) => v.severity === 'violation');
  const verdict: Verdict = evaluation.verdict === 'ERROR' ? 'ERROR' : changes || guardrailViolated ? 'NONCOMPLIANT' : evaluation.verdict;
  const planned = {
    ...(plans.encryption ? { plan: plans.encryption } : {}),
    ...(guardrails.policyPlan ? { policyBefore: parsedPolicy(policy), policyPlan: guardrails.policyPlan.document } : {}),
    ...(guardrails.publicAccessBlockPlan ? { publicAccessBlockBefore: state.publicAccessBlock ?? null } : {}),
  };

  // An ERROR means the bucket could not be judged: nothing at all is written to it.
  if (verdict === 'ERROR') return done({ ...known, verdict, violations, action: 'SKIPPED' });
  if (!changes) return done({ ...known, verdict, violations, action: verdict === 'NONCOMPLIANT' ? 'SKIPPED' : 'NONE' });
  if (config.dryRun) return done({ ...known, verdict, violations, action: 'WOULD_REMEDIATE', ...planned });

  const ledger = await consultLedger(deps, request, now());
  if (ledger.stop) return done({ ...known, verdict, violations: [...violations, ledger.stop], action: 'SKIPPED', ...planned });
  const applied = await applyPlans(s3, at, plans, policy);
  if ('gone' in applied) return done({ ...known, ...gone('while') });
  const noted = ledger.warning ? [ledger.warning] : [];
  return done({ ...known, verdict, violations: [...violations, ...noted, ...applied.violations], action: applied.action, ...planned, ...applied.fields });
};
