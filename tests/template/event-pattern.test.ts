/**
 * The rules' EventPatterns, run by an EventBridge emulator (moto) through the real SDK: a rule with the
 * pattern and an SQS target, then PutEvents of every sample in events/. What reaches the queue is what the
 * deployed rule would hand on. (moto's TestEventPattern is a stub, so the pattern is exercised by actual
 * delivery; moto's matcher implements `anything-but` with `prefix`, the construct the exclusion uses.)
 *
 * Two rules, one pattern module (lib/organization/event-pattern.ts): the packaged single-account rule, in
 * account 123456789012, and the spoke's forwarding rule (deploy/spoke.yml) in member account 444455556666,
 * with the samples' account ids and ARNs moved to that account. Both must deliver exactly the same samples.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteRuleCommand, EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { load } from 'js-yaml';
import { SPOKE_PATH } from '../../scripts/build-spoke';
import { useEmulator } from '../emulator-env';
import { describeResult, packageService, resolveAccountSubs, SERVICE_DIR, stageService } from './serverless-cli';

const ACCOUNT = '123456789012';
const MEMBER_ACCOUNT = '444455556666';
const GUARD_PREFIX = `arn:aws:iam::${ACCOUNT}:role/s3-encryption-guard/`;
const CLI_TIMEOUT = 180_000;

type Json = Record<string, any>;
const sample = (name: string): Json => JSON.parse(readFileSync(join(SERVICE_DIR, 'events', name), 'utf8')) as Json;

const POSITIVES = [
  'create-bucket.json', 'create-bucket-iam-user.json', 'create-bucket-root.json',
  'put-bucket-encryption.json', 'delete-bucket-encryption.json',
  'put-bucket-tagging.json', 'delete-bucket-tagging.json',
  'tag-resource.json', 'untag-resource.json',
  'put-bucket-policy.json', 'delete-bucket-policy.json', 'put-public-access-block.json', 'delete-public-access-block.json',
];
const NEGATIVES = ['failed-call.json', 'read-only-call.json', 'non-s3-event.json', 'guard-own-role.json'];
/** Matches: on the default bus a rule only ever sees its own account's events; the handler ignores it. */
const FOREIGN = 'other-account.json';

/** guard-own-role.json, made by another role (its issuer ARN): a fresh event id, so it is told apart on arrival. */
const byIssuer = (issuerArn: string): Json => {
  const event = structuredClone(sample('guard-own-role.json'));
  event.detail.eventID = randomUUID();
  event.detail.userIdentity.sessionContext.sessionIssuer.arn = issuerArn;
  return event;
};
const withNewId = (event: Json): Json => ({ ...structuredClone(event), detail: { ...structuredClone(event.detail), eventID: randomUUID() } });

/** Calls of other guard roles of the account: none may arrive. */
const GUARD_CALLS: Record<string, Json> = {
  'the sweep\'s role (CloudFormation-named, at the guard path)': byIssuer(`${GUARD_PREFIX}s3-encryption-guard-dev-SweepBucketsRole-4RZ1T0DKW2QX`),
  'the guard of another region of the account': byIssuer(`${GUARD_PREFIX}s3-encryption-guard-prod-eu-west-1-lambdaRole`),
  'the member role the hub assumes': byIssuer(`${GUARD_PREFIX}s3-encryption-guard-member`),
};

/** Each negative with only the property that should exclude it changed: these must arrive. */
const CONTROLS: Record<string, Json> = {
  'guard-own-role.json made by a role named like the guard\'s, outside its path': byIssuer(`arn:aws:iam::${ACCOUNT}:role/s3-encryption-guard-dev-us-east-1-lambdaRole-impostor`),
  'guard-own-role.json made by a role at a path that only starts like the guard\'s': byIssuer(`arn:aws:iam::${ACCOUNT}:role/s3-encryption-guard-x/s3-encryption-guard-member`),
  'guard-own-role.json made by a guard role of another account': byIssuer('arn:aws:iam::999988887777:role/s3-encryption-guard/s3-encryption-guard-member'),
  'failed-call.json without its error': (() => {
    const event = withNewId(sample('failed-call.json'));
    delete event.detail.errorCode;
    delete event.detail.errorMessage;
    return event;
  })(),
  'read-only-call.json as a PutBucketEncryption': (() => {
    const event = withNewId(sample('read-only-call.json'));
    event.detail.eventName = 'PutBucketEncryption';
    event.detail.readOnly = false;
    return event;
  })(),
  'non-s3-event.json sent as aws.s3 with eventSource s3 and a CreateBucket name': (() => {
    const event = withNewId(sample('non-s3-event.json'));
    event.source = 'aws.s3';
    event.detail.eventSource = 's3.amazonaws.com';
    event.detail.eventName = 'CreateBucket';
    return event;
  })(),
};

/** Every event sent, by label. */
const EVENTS: Record<string, Json> = {
  ...Object.fromEntries([...POSITIVES, ...NEGATIVES, FOREIGN].map((file) => [file, sample(file)])),
  ...GUARD_CALLS,
  ...CONTROLS,
};
const EXPECTED = [...POSITIVES, FOREIGN, ...Object.keys(CONTROLS)].sort();

/** The events as they happen in another account: its id wherever the guard's account appears. */
const inAccount = (event: Json, account: string): Json => JSON.parse(JSON.stringify(event).replaceAll(ACCOUNT, account)) as Json;

const entryOf = (event: Json): PutEventsRequestEntry => ({
  Source: event.source,
  DetailType: event['detail-type'],
  Detail: JSON.stringify(event.detail),
  Resources: event.resources,
  Time: new Date(event.time),
});

describe('the rules\' EventPattern, run by EventBridge (moto)', () => {
  const suffix = randomUUID().slice(0, 8);
  let events: EventBridgeClient;
  let sqs: SQSClient;
  const cleanup: Array<() => Promise<unknown>> = [];
  let singlePattern: unknown;
  let spokePattern: unknown;
  let packagedPattern: unknown;
  /** Labels of the events that reached each rule's queue. */
  const arrived: Record<'single' | 'spoke', string[]> = { single: [], spoke: [] };

  /** One rule with the pattern, one queue behind it; sends the events and returns the labels that arrived. */
  const run = async (name: string, pattern: unknown, sent: Record<string, Json>): Promise<string[]> => {
    const ruleName = `guard-pattern-${name}-${suffix}`;
    const { QueueUrl: queueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: ruleName }));
    cleanup.push(() => sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    await events.send(new PutRuleCommand({ Name: ruleName, EventPattern: JSON.stringify(pattern), State: 'ENABLED' }));
    await events.send(new PutTargetsCommand({ Rule: ruleName, Targets: [{ Id: 'queue', Arn: Attributes?.QueueArn }] }));
    cleanup.push(async () => {
      await events.send(new RemoveTargetsCommand({ Rule: ruleName, Ids: ['queue'] }));
      await events.send(new DeleteRuleCommand({ Name: ruleName }));
    });

    const all = Object.values(sent);
    for (let start = 0; start < all.length; start += 10) {
      const { FailedEntryCount, Entries } = await events.send(new PutEventsCommand({ Entries: all.slice(start, start + 10).map(entryOf) }));
      if (FailedEntryCount) throw new Error(`PutEvents failed: ${JSON.stringify(Entries)}`);
    }
    // moto delivers to the target during PutEvents: drain until the queue answers empty twice.
    const labelOf = new Map(Object.entries(sent).map(([label, event]) => [event.detail.eventID, label]));
    const labels: string[] = [];
    for (let empty = 0; empty < 2;) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      if (Messages.length === 0) empty += 1;
      for (const message of Messages) labels.push(labelOf.get((JSON.parse(message.Body ?? '{}') as Json).detail?.eventID) ?? 'unknown event');
    }
    return labels.sort();
  };

  beforeAll(async () => {
    const service = stageService();
    try {
      const packaged = await packageService(service);
      if (!packaged.template) throw new Error(describeResult('serverless package', packaged.result));
      const rules = Object.values(packaged.template.Resources)
        .filter((resource) => resource.Type === 'AWS::Events::Rule' && JSON.stringify(resource.Properties?.EventPattern?.source) === '["aws.s3"]');
      if (rules.length !== 1) throw new Error(`expected one rule on aws.s3 events, found ${rules.length}`);
      packagedPattern = rules[0].Properties.EventPattern;
    } finally {
      service.remove();
    }
    const spoke = load(readFileSync(SPOKE_PATH, 'utf8')) as Json;
    singlePattern = resolveAccountSubs(packagedPattern, ACCOUNT);
    spokePattern = resolveAccountSubs(spoke.Resources.ForwardBucketEventsRule.Properties.EventPattern, MEMBER_ACCOUNT);

    const endpoint = useEmulator();
    const clientConfig = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    events = new EventBridgeClient(clientConfig);
    sqs = new SQSClient(clientConfig);
    arrived.single = await run('single', singlePattern, EVENTS);
    arrived.spoke = await run('spoke', spokePattern, Object.fromEntries(Object.entries(EVENTS).map(([label, event]) => [label, inAccount(event, MEMBER_ACCOUNT)])));
  }, CLI_TIMEOUT);

  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    events?.destroy();
    sqs?.destroy();
  });

  it('is the packaged pattern, with only the account\'s guard role prefix filled in', () => {
    expect(JSON.stringify(singlePattern)).toContain(`{"anything-but":{"prefix":"${GUARD_PREFIX}"}}`);
  });

  it.each(POSITIVES)('delivers %s', (file) => {
    expect(arrived.single).toContain(file);
  });

  it.each(NEGATIVES)('does not deliver %s', (file) => {
    expect(arrived.single).not.toContain(file);
  });

  it.each(Object.keys(GUARD_CALLS))('does not deliver the calls of %s', (label) => {
    expect(arrived.single).not.toContain(label);
  });

  it(`delivers ${FOREIGN} (the handler ignores it; a default bus only carries its own account's events)`, () => {
    expect(arrived.single).toContain(FOREIGN);
  });

  it.each(Object.keys(CONTROLS))('delivers %s: the negative was excluded for that reason only', (label) => {
    expect(arrived.single).toContain(label);
  });

  it('delivers nothing else', () => {
    expect(arrived.single).toEqual(EXPECTED);
  });

  describe('the spoke\'s forwarding rule (deploy/spoke.yml), in a member account', () => {
    it('is the single-account pattern, the same template value', () => {
      const spoke = load(readFileSync(SPOKE_PATH, 'utf8')) as Json;
      expect(spoke.Resources.ForwardBucketEventsRule.Properties.EventPattern).toEqual(packagedPattern);
    });

    it('forwards exactly the events the single-account rule delivers', () => {
      expect(arrived.spoke).toEqual(arrived.single);
    });

    it('does not forward the member role\'s own calls (the hub\'s writes) nor any guard role\'s of the account', () => {
      for (const label of Object.keys(GUARD_CALLS)) expect(arrived.spoke).not.toContain(label);
      expect(inAccount(GUARD_CALLS['the member role the hub assumes'], MEMBER_ACCOUNT).detail.userIdentity.sessionContext.sessionIssuer.arn)
        .toBe(`arn:aws:iam::${MEMBER_ACCOUNT}:role/s3-encryption-guard/s3-encryption-guard-member`);
    });
  });
});
