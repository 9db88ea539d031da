/**
 * Every AWS call the doctor makes, all of them reads: one function per fact, returning the fact or
 * `{ error }` (a check then says what could not be read), never throwing for an AWS error. Clients come
 * from the caller's own credentials (profile, region), and `AWS_ENDPOINT_URL` points them at an emulator.
 */
import { CloudFormationClient, paginateListStackResources } from '@aws-sdk/client-cloudformation';
import { CloudTrailClient, DescribeTrailsCommand, GetEventSelectorsCommand, GetTrailStatusCommand } from '@aws-sdk/client-cloudtrail';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeRuleCommand, EventBridgeClient, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { paginateListRoles, paginateListUsers, IAMClient, paginateSimulatePrincipalPolicy } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetEventSourceMappingCommand, GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeEffectivePolicyCommand, DescribeOrganizationCommand, DescribePolicyCommand, ListParentsCommand, OrganizationsClient, paginateListPoliciesForTarget,
} from '@aws-sdk/client-organizations';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { errorMessage, errorName, httpStatus } from '../aws-errors';
import { forEachLimit } from '../concurrency';
import type { KeyFacts } from '../key-checks';
import { createKeyLookup } from '../key-lookup';
import type { QueueFacts, RuleFacts } from './delivery';
import { decisionsOf, type PrincipalAccess, SIMULATED_ACTIONS, type SimulatedResult } from './kms-access';
import type { OrgFacts, OrgPolicy } from './org-controls';
import type { StackResource } from './stack';
import type { AdvancedSelector, BasicSelector, TrailFacts } from './trails';

export interface DoctorClients {
  region: string;
  cloudformation: CloudFormationClient;
  cloudtrail: (region: string) => CloudTrailClient;
  cloudwatch: CloudWatchClient;
  events: EventBridgeClient;
  iam: IAMClient;
  kms: (region: string) => KMSClient;
  lambda: LambdaClient;
  organizations: OrganizationsClient;
  s3: S3Client;
  sqs: SQSClient;
  sts: STSClient;
}

export interface ClientOptions {
  region: string;
  profile?: string;
  /** An emulator (AWS_ENDPOINT_URL): S3 then needs path-style addressing. */
  endpoint?: string;
}

export const createDoctorClients = ({ region, profile, endpoint }: ClientOptions): DoctorClients => {
  const common = { maxAttempts: 3, ...(profile ? { profile } : {}), ...(endpoint ? { endpoint } : {}) };
  const perRegion = <T>(create: (region: string) => T): ((region: string) => T) => {
    const clients = new Map<string, T>();
    return (where) => clients.get(where) ?? clients.set(where, create(where)).get(where)!;
  };
  return {
    region,
    cloudformation: new CloudFormationClient({ ...common, region }),
    cloudtrail: perRegion((where) => new CloudTrailClient({ ...common, region: where })),
    cloudwatch: new CloudWatchClient({ ...common, region }),
    events: new EventBridgeClient({ ...common, region }),
    // IAM and Organizations are global services, answered in us-east-1 (aws partition).
    iam: new IAMClient({ ...common, region: 'us-east-1' }),
    kms: perRegion((where) => new KMSClient({ ...common, region: where })),
    lambda: new LambdaClient({ ...common, region }),
    organizations: new OrganizationsClient({ ...common, region: 'us-east-1' }),
    s3: new S3Client({ ...common, region, forcePathStyle: Boolean(endpoint) }),
    sqs: new SQSClient({ ...common, region }),
    sts: new STSClient({ ...common, region }),
  };
};

export type Read<T> = T | { error: string };
/** An error in one short line: its name, HTTP status, and the first line of its message. */
export const describeError = (error: unknown): string => {
  const status = httpStatus(error);
  const message = errorMessage(error).split('\n')[0].slice(0, 160);
  return `${errorName(error)}${status ? ` (HTTP ${status})` : ''}: ${message}`;
};
const attempt = async <T>(read: () => Promise<T>): Promise<Read<T>> => {
  try {
    return await read();
  } catch (error) {
    // Missing credentials are not a finding about the account: the CLI explains them once.
    if (errorName(error) === 'CredentialsProviderError') throw error;
    return { error: describeError(error) };
  }
};

export const readAccount = async (clients: DoctorClients): Promise<string> =>
  (await clients.sts.send(new GetCallerIdentityCommand({}))).Account ?? 'unknown';

export const readStack = (clients: DoctorClients, stackName: string): Promise<Read<Map<string, StackResource>>> => attempt(async () => {
  const resources = new Map<string, StackResource>();
  for await (const page of paginateListStackResources({ client: clients.cloudformation }, { StackName: stackName })) {
    for (const summary of page.StackResourceSummaries ?? []) {
      if (summary.LogicalResourceId && summary.PhysicalResourceId) resources.set(summary.LogicalResourceId, { type: summary.ResourceType ?? '', physicalId: summary.PhysicalResourceId });
    }
  }
  return resources;
});

export const readEnvironment = (clients: DoctorClients, functionName: string): Promise<Read<Record<string, string>>> => attempt(async () =>
  (await clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }))).Environment?.Variables ?? {});

export const readTrails = (clients: DoctorClients): Promise<Read<TrailFacts[]>> => attempt(async () => {
  // Shadow trails: organisation trails and multi-region trails of other home regions that apply here.
  const { trailList = [] } = await clients.cloudtrail(clients.region).send(new DescribeTrailsCommand({ includeShadowTrails: true }));
  return Promise.all(trailList.map(async (trail): Promise<TrailFacts> => {
    const home = trail.HomeRegion ?? clients.region;
    const name = trail.TrailARN ?? trail.Name ?? '';
    const client = clients.cloudtrail(home);
    const [status, selectors] = await Promise.all([
      attempt(() => client.send(new GetTrailStatusCommand({ Name: name }))),
      attempt(() => client.send(new GetEventSelectorsCommand({ TrailName: name }))),
    ]);
    const problems = [...('error' in status ? [`status: ${status.error}`] : []), ...('error' in selectors ? [`event selectors: ${selectors.error}`] : [])];
    return {
      name: trail.Name ?? name,
      homeRegion: home,
      multiRegion: trail.IsMultiRegionTrail === true,
      organization: trail.IsOrganizationTrail === true,
      ...('error' in status ? {} : { logging: status.IsLogging === true }),
      ...('error' in selectors ? {} : { selectors: { basic: (selectors.EventSelectors ?? []) as BasicSelector[], advanced: (selectors.AdvancedEventSelectors ?? []) as AdvancedSelector[] } }),
      ...(problems.length ? { unreadable: problems.join('; ') } : {}),
    };
  }));
});

export const readRule = (clients: DoctorClients, ruleName: string): Promise<Read<RuleFacts>> => attempt(async () => {
  // A rule on another bus has the physical id `bus|name`.
  const [bus, name] = ruleName.includes('|') ? ruleName.split('|') : [undefined, ruleName];
  const target = { Name: name, ...(bus ? { EventBusName: bus } : {}) };
  const [rule, targets] = await Promise.all([
    clients.events.send(new DescribeRuleCommand(target)),
    clients.events.send(new ListTargetsByRuleCommand({ Rule: name, ...(bus ? { EventBusName: bus } : {}) })),
  ]);
  return {
    name, state: rule.State ?? 'UNKNOWN',
    targets: (targets.Targets ?? []).map((t) => ({ arn: t.Arn ?? '', ...(t.DeadLetterConfig?.Arn ? { deadLetterArn: t.DeadLetterConfig.Arn } : {}) })),
  };
});

/** CloudWatch's latest ApproximateAgeOfOldestMessage of the last hour, in seconds (SQS has no API for it). */
const oldestAge = async (clients: DoctorClients, queueName: string, now: Date): Promise<number | undefined> => {
  const { MetricDataResults = [] } = await clients.cloudwatch.send(new GetMetricDataCommand({
    StartTime: new Date(now.getTime() - 3_600_000), EndTime: now, ScanBy: 'TimestampDescending',
    MetricDataQueries: [{ Id: 'age', MetricStat: { Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: [{ Name: 'QueueName', Value: queueName }] }, Period: 60, Stat: 'Maximum' } }],
  }));
  return MetricDataResults[0]?.Values?.[0];
};

export const readQueue = (clients: DoctorClients, queueUrl: string, now = new Date()): Promise<Read<QueueFacts>> => attempt(async () => {
  const { Attributes = {} } = await clients.sqs.send(new GetQueueAttributesCommand({
    QueueUrl: queueUrl,
    AttributeNames: ['QueueArn', 'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed', 'DelaySeconds'],
  }));
  const facts: QueueFacts = {
    arn: Attributes.QueueArn ?? '',
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
    delaySeconds: Number(Attributes.DelaySeconds ?? 0),
  };
  if (facts.visible + facts.inFlight + facts.delayed === 0) return facts;
  // Only worth a CloudWatch call when something waits; a missing metric is said, not guessed.
  const age = await attempt(() => oldestAge(clients, queueUrl.split('/').pop() ?? '', now));
  return typeof age === 'number' ? { ...facts, oldestAgeSeconds: age } : facts;
});

export const readMappingState = (clients: DoctorClients, uuid: string): Promise<Read<{ state: string }>> => attempt(async () =>
  ({ state: (await clients.lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }))).State ?? 'Unknown' }));

export const readKey = (clients: DoctorClients, arn: string, region: string): Promise<KeyFacts> =>
  createKeyLookup(clients.kms)(arn, region);

export const readKeyPolicy = (clients: DoctorClients, arn: string, region: string): Promise<Read<string>> => attempt(async () =>
  (await clients.kms(region).send(new GetKeyPolicyCommand({ KeyId: arn, PolicyName: 'default' }))).Policy ?? '');

/** The aws/s3 key's ARN; `undefined` when it does not exist yet (S3 creates it on first use). */
export const readAwsManagedKey = async (clients: DoctorClients): Promise<Read<string | undefined>> => {
  try {
    return (await clients.kms(clients.region).send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' }))).KeyMetadata?.Arn;
  } catch (error) {
    return errorName(error) === 'NotFoundException' ? undefined : { error: describeError(error) };
  }
};

export interface Principals {
  arns: string[];
  more: boolean;
  skippedServiceLinked: number;
}

/** The account's roles and users, up to `max`; service-linked roles (AWS's own, not changeable) are skipped. */
export const listPrincipals = (clients: DoctorClients, max: number): Promise<Read<Principals>> => attempt(async () => {
  const arns: string[] = [];
  let skippedServiceLinked = 0;
  let more = false;
  for await (const page of paginateListRoles({ client: clients.iam, pageSize: 100 }, {})) {
    for (const role of page.Roles ?? []) {
      if (role.Path?.startsWith('/aws-service-role/')) skippedServiceLinked += 1;
      else if (arns.length < max) arns.push(role.Arn!);
      else more = true;
    }
    if (more) break;
  }
  if (!more) {
    for await (const page of paginateListUsers({ client: clients.iam, pageSize: 100 }, {})) {
      for (const user of page.Users ?? []) {
        if (arns.length < max) arns.push(user.Arn!);
        else more = true;
      }
      if (more) break;
    }
  }
  return { arns, more, skippedServiceLinked };
});

/** Buckets of the watched region, up to `max` (ListBuckets order). */
export const listBuckets = (clients: DoctorClients, max: number): Promise<Read<{ names: string[]; more: boolean }>> => attempt(async () => {
  const { Buckets = [], ContinuationToken } = await clients.s3.send(new ListBucketsCommand({ BucketRegion: clients.region, MaxBuckets: max }));
  return { names: Buckets.flatMap((bucket) => (bucket.Name ? [bucket.Name] : [])).slice(0, max), more: Boolean(ContinuationToken) || Buckets.length > max };
});

/**
 * IAM's simulation for each principal, four at a time. The first failure stops the work (a missing
 * permission or an emulator without the API fails every call alike) and is returned as the error.
 */
export const simulatePrincipals = async (clients: DoctorClients, principals: readonly string[], resources: readonly string[]): Promise<Read<PrincipalAccess[]>> => {
  const results: PrincipalAccess[] = [];
  let failure: string | undefined;
  await forEachLimit(principals, 4, async (arn) => {
    if (failure) return;
    const simulated = await attempt(async () => {
      const all: SimulatedResult[] = [];
      for await (const page of paginateSimulatePrincipalPolicy({ client: clients.iam }, { PolicySourceArn: arn, ActionNames: SIMULATED_ACTIONS, ResourceArns: [...resources] })) {
        all.push(...(page.EvaluationResults ?? []));
      }
      return all;
    });
    if ('error' in simulated) failure ??= simulated.error;
    else results.push({ arn, decisions: decisionsOf(simulated, resources) });
  });
  return failure ? { error: failure } : results;
};

const RCP_FULL_ACCESS = 'p-RCPFullAWSAccess';

/** RCPs attached to the account and every OU above it up to the root (only the management account or a delegated administrator may list them). */
const readRcps = (org: OrganizationsClient, accountId: string): Promise<Read<OrgPolicy[]>> => attempt(async () => {
  const targets = [accountId];
  for (let child = accountId, depth = 0; depth < 6; depth++) {
    const { Parents = [] } = await org.send(new ListParentsCommand({ ChildId: child }));
    const parent = Parents[0];
    if (!parent?.Id) break;
    targets.push(parent.Id);
    if (parent.Type === 'ROOT') break;
    child = parent.Id;
  }
  const ids = new Set<string>();
  for (const target of targets) {
    for await (const page of paginateListPoliciesForTarget({ client: org }, { TargetId: target, Filter: 'RESOURCE_CONTROL_POLICY' })) {
      for (const policy of page.Policies ?? []) if (policy.Id && policy.Id !== RCP_FULL_ACCESS) ids.add(policy.Id);
    }
  }
  return Promise.all([...ids].map(async (id) => {
    const { Policy } = await org.send(new DescribePolicyCommand({ PolicyId: id }));
    return { id, name: Policy?.PolicySummary?.Name ?? id, content: Policy?.Content ?? '' };
  }));
});

/** The account's effective S3 policy (readable from the account itself); `null` when there is none. */
const readS3Policy = (org: OrganizationsClient, accountId: string): Promise<Read<string | null>> => attempt(async () => {
  try {
    return (await org.send(new DescribeEffectivePolicyCommand({ PolicyType: 'S3_POLICY', TargetId: accountId }))).EffectivePolicy?.PolicyContent ?? null;
  } catch (error) {
    if (errorName(error) === 'EffectivePolicyNotFoundException') return null;
    throw error;
  }
});

export const readOrganization = (clients: DoctorClients, accountId: string): Promise<Read<OrgFacts>> => attempt(async () => {
  try {
    await clients.organizations.send(new DescribeOrganizationCommand({}));
  } catch (error) {
    if (errorName(error) === 'AWSOrganizationsNotInUseException') return { inOrganization: false };
    throw error;
  }
  const [rcps, s3Policy] = await Promise.all([readRcps(clients.organizations, accountId), readS3Policy(clients.organizations, accountId)]);
  return { inOrganization: true, rcps, s3Policy };
});
