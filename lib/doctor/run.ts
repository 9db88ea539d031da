/**
 * The doctor: reads the deployed stack and what it depends on (lib/doctor/aws.ts, in parallel where the
 * reads are independent) and turns each fact into a check (the pure modules beside this one).
 */
import { type GuardConfig, loadConfig } from '../config';
import { listedKeyFor } from '../evaluate';
import type { KeyFacts } from '../key-checks';
import { parseKeyArn } from '../kms-arn';
import { type AccountMode, KMS_MODES } from '../modes';
import {
  type DoctorClients, describeError, listBuckets, listPrincipals, type Read, readAccount, readAwsManagedKey, readEnvironment, readKey, readKeyPolicy,
  readMappingState, readOrganization, readQueue, readRule, readStack, readTrails, simulatePrincipals,
} from './aws';
import type { Check } from './check';
import { deadLetterCheck, ruleCheck, settleQueueCheck } from './delivery';
import { keyCheck } from './keys';
import { kmsAccessCheck, kmsAccessNotRun, objectsArn, readKeyPolicy as keyPolicyView } from './kms-access';
import { orgControlsCheck } from './org-controls';
import { configCheck, deadLetterQueuesIn, ENFORCE_FUNCTION_ID, SETTLE_QUEUE_MAPPING_ID, RULE_ID, SETTLE_QUEUE_ID, stackCheck, stackName, type StackResources } from './stack';
import { trailCheck } from './trails';

export interface DoctorOptions {
  stage: string;
  /** Bucket names for the "who would break" simulation; default: the first `maxBuckets` of the region. */
  buckets?: readonly string[];
  maxBuckets: number;
  maxPrincipals: number;
  /** Preview a mode (and its keys) instead of the deployed one: the impact before switching. */
  mode?: AccountMode;
  kmsKeyArns?: readonly string[];
}

export interface DoctorReport {
  stack: string;
  region: string;
  account: string;
  checks: Check[];
}

const GUARDRAIL_DEFAULTS = loadConfig({}).guardrails;

/** The guard's configuration: deployed, or the previewed mode on top of it (validated by the CLI: loadConfig does not throw here). */
const effectiveConfig = (deployed: GuardConfig | undefined, options: DoctorOptions, region: string): { config?: GuardConfig; preview: boolean } => {
  if (!options.mode && !options.kmsKeyArns) return { ...(deployed ? { config: deployed } : {}), preview: false };
  const config = loadConfig({
    AWS_REGION: region,
    ENCRYPTION_MODE: options.mode ?? deployed?.mode,
    KMS_KEY_ARN: (options.kmsKeyArns ?? deployed?.kmsKeyArns ?? []).join(','),
  });
  return { config: { ...config, guardrails: deployed?.guardrails ?? config.guardrails }, preview: true };
};

const keyFacts = async (clients: DoctorClients, arn: string): Promise<KeyFacts> => {
  try {
    return await readKey(clients, arn, parseKeyArn(arn)?.region ?? clients.region);
  } catch (error) {
    return { found: false, reason: `key ${arn} could not be described: ${describeError(error)}` };
  }
};

const kmsAccess = async (clients: DoctorClients, config: GuardConfig, enforced: boolean, accountId: string, options: DoctorOptions): Promise<Check> => {
  const awsManaged = config.mode === 'SSE_KMS_AWS_MANAGED';
  const key: Read<string | undefined> = awsManaged ? await readAwsManagedKey(clients) : listedKeyFor(clients.region, config.kmsKeyArns);
  if (typeof key === 'object') return kmsAccessNotRun(`aws/s3 could not be described: ${key.error}`);
  if (!awsManaged && !key) return kmsAccessNotRun(`no key is listed for ${clients.region}`);
  // aws/s3 is created on first use: until then its ARN is unknown, and only its alias can be simulated.
  const keyArn = key ?? `arn:aws:kms:${clients.region}:${accountId}:alias/aws/s3`;
  const [principals, buckets, policy] = await Promise.all([
    listPrincipals(clients, options.maxPrincipals),
    options.buckets?.length ? { names: [...options.buckets], more: false } : listBuckets(clients, options.maxBuckets),
    awsManaged ? undefined : readKeyPolicy(clients, keyArn, parseKeyArn(keyArn)?.region ?? clients.region),
  ]);
  if ('error' in principals) return kmsAccessNotRun(`roles and users could not be listed: ${principals.error}`);
  if ('error' in buckets) return kmsAccessNotRun(`buckets could not be listed: ${buckets.error}`);
  const simulated = await simulatePrincipals(clients, principals.arns, [...buckets.names.map((name) => objectsArn(name)), keyArn]);
  if ('error' in simulated) return kmsAccessNotRun(`iam:SimulatePrincipalPolicy failed: ${simulated.error}`);
  return kmsAccessCheck({
    keyArn, awsManaged,
    keyPolicy: policy === undefined ? { delegatesToIam: true, allows: () => false }
      : typeof policy === 'string' ? keyPolicyView(policy, accountId) : keyPolicyView(undefined, accountId, policy.error),
    buckets: buckets.names, moreBuckets: buckets.more,
    principals: simulated, morePrincipals: principals.more, skippedServiceLinked: principals.skippedServiceLinked,
    enforced,
  });
};

/** Checks of the stack's own resources: rule, queues, configuration. */
const stackChecks = async (clients: DoctorClients, resources: StackResources): Promise<{ checks: Check[]; config?: GuardConfig }> => {
  const physical = (id: string): string => resources.get(id)?.physicalId ?? '';
  const mapping = resources.get(SETTLE_QUEUE_MAPPING_ID) ?? [...resources.values()].find((resource) => resource.type === 'AWS::Lambda::EventSourceMapping');
  const deadLetterQueues = deadLetterQueuesIn(resources);
  const [environment, settle, rule, mappingState, ...deadLetters] = await Promise.all([
    readEnvironment(clients, physical(ENFORCE_FUNCTION_ID)),
    readQueue(clients, physical(SETTLE_QUEUE_ID)),
    readRule(clients, physical(RULE_ID)),
    mapping ? readMappingState(clients, mapping.physicalId) : { error: 'the stack has no event source mapping' },
    ...deadLetterQueues.map((queue) => readQueue(clients, physical(queue.id))),
  ]);
  const { check: config, config: deployed } = configCheck(environment, clients.region);
  return {
    ...(deployed ? { config: deployed } : {}),
    checks: [
      config,
      ruleCheck(rule, 'error' in settle ? undefined : settle.arn),
      settleQueueCheck(settle, mappingState),
      ...deadLetterQueues.map((queue, index) => deadLetterCheck(queue.alarm, queue.label, queue.means, deadLetters[index])),
    ],
  };
};

export const runDoctor = async (clients: DoctorClients, options: DoctorOptions): Promise<DoctorReport> => {
  const name = stackName(options.stage);
  const accountId = await readAccount(clients);
  const [resources, trails, organization] = await Promise.all([
    readStack(clients, name),
    readTrails(clients),
    readOrganization(clients, accountId),
  ]);
  const fromStack = 'error' in resources || stackCheck(name, clients.region, resources).status === 'FAIL'
    ? { checks: [] as Check[] }
    : await stackChecks(clients, resources);

  const { config, preview } = effectiveConfig(fromStack.config, options, clients.region);
  const keys = config?.kmsKeyArns ?? [];
  const [keyChecks, access] = await Promise.all([
    Promise.all(keys.map(async (arn) => keyCheck(arn, await keyFacts(clients, arn)))),
    config && KMS_MODES.has(config.mode) ? kmsAccess(clients, config, !preview && !config.dryRun, accountId, options) : undefined,
  ]);
  return {
    stack: name,
    region: clients.region,
    account: accountId,
    checks: [
      stackCheck(name, clients.region, resources),
      ...fromStack.checks,
      trailCheck(clients.region, trails),
      ...keyChecks,
      ...(access ? [access] : []),
      orgControlsCheck(organization, config?.guardrails ?? GUARDRAIL_DEFAULTS),
    ],
  };
};
