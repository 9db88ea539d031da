/**
 * The packaged rule's EventPattern, run by an EventBridge emulator (moto) through the real SDK: a rule
 * with that pattern and an SQS target, then PutEvents of every sample in events/. What reaches the queue
 * is what the deployed rule would hand to the settle queue. (moto's TestEventPattern is a stub, so the
 * pattern is exercised by actual delivery.)
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteRuleCommand, EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { useEmulator } from '../emulator-env';
import { describeResult, packageService, SERVICE_DIR, stageService } from './serverless-cli';

const GUARD_ROLE_ARN = 'arn:aws:iam::123456789012:role/s3-encryption-guard-dev-us-east-1-lambdaRole';
/** The sweep's role is named by CloudFormation: stack name, logical id, a random suffix. */
const SWEEP_ROLE_ARN = 'arn:aws:iam::123456789012:role/s3-encryption-guard-dev-SweepBucketsRole-4RZ1T0DKW2QX';
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

/** The guard-own-role sample as the sweep's role would make it: must not arrive either. */
const SWEEP_OWN_CALL: Json = (() => {
  const event = { ...sample('guard-own-role.json'), detail: { ...sample('guard-own-role.json').detail, eventID: randomUUID() } };
  event.detail.userIdentity = structuredClone(event.detail.userIdentity);
  event.detail.userIdentity.sessionContext.sessionIssuer.arn = SWEEP_ROLE_ARN;
  return event;
})();

/** Each negative with only the property that should exclude it changed: these must arrive. */
const withNewId = (event: Json): Json => ({ ...event, detail: { ...event.detail, eventID: randomUUID() } });
const CONTROLS: Record<string, Json> = {
  'guard-own-role.json made by another role': (() => {
    const event = withNewId(sample('guard-own-role.json'));
    event.detail.userIdentity = structuredClone(event.detail.userIdentity);
    event.detail.userIdentity.sessionContext.sessionIssuer.arn = 'arn:aws:iam::123456789012:role/s3-encryption-guard-dev-us-east-1-lambdaRole-impostor';
    return event;
  })(),
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

/** The packaged pattern, with the role's `Fn::GetAtt` resolved as CloudFormation would for stage dev in us-east-1. */
const resolveRoleArn = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(resolveRoleArn);
  if (typeof value !== 'object' || value === null) return value;
  const getAtt = (value as Json)['Fn::GetAtt'];
  if (Array.isArray(getAtt) && getAtt[0] === 'IamRoleLambdaExecution' && getAtt[1] === 'Arn') return GUARD_ROLE_ARN;
  if (Array.isArray(getAtt) && getAtt[0] === 'SweepBucketsRole' && getAtt[1] === 'Arn') return SWEEP_ROLE_ARN;
  if (Object.keys(value).some((key) => key.startsWith('Fn::') || key === 'Ref')) throw new Error(`unresolved intrinsic in the pattern: ${JSON.stringify(value)}`);
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, resolveRoleArn(inner)]));
};

const entryOf = (event: Json): PutEventsRequestEntry => ({
  Source: event.source,
  DetailType: event['detail-type'],
  Detail: JSON.stringify(event.detail),
  Resources: event.resources,
  Time: new Date(event.time),
});

describe('the rule\'s EventPattern, run by EventBridge (moto)', () => {
  const suffix = randomUUID().slice(0, 8);
  const ruleName = `guard-pattern-${suffix}`;
  let events: EventBridgeClient;
  let sqs: SQSClient;
  let queueUrl: string;
  let pattern: unknown;
  /** eventID of every message that reached the queue. */
  const arrived = new Set<string>();

  beforeAll(async () => {
    const service = stageService();
    try {
      const packaged = await packageService(service);
      if (!packaged.template) throw new Error(describeResult('serverless package', packaged.result));
      const rules = Object.values(packaged.template.Resources)
        .filter((resource) => resource.Type === 'AWS::Events::Rule' && JSON.stringify(resource.Properties?.EventPattern?.source) === '["aws.s3"]');
      if (rules.length !== 1) throw new Error(`expected one rule on aws.s3 events, found ${rules.length}`);
      const [rule] = rules;
      pattern = resolveRoleArn(rule.Properties.EventPattern);
    } finally {
      service.remove();
    }

    const endpoint = useEmulator();
    const clientConfig = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    events = new EventBridgeClient(clientConfig);
    sqs = new SQSClient(clientConfig);

    ({ QueueUrl: queueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: `guard-pattern-${suffix}` })));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    await events.send(new PutRuleCommand({ Name: ruleName, EventPattern: JSON.stringify(pattern), State: 'ENABLED' }));
    await events.send(new PutTargetsCommand({ Rule: ruleName, Targets: [{ Id: 'settle-queue', Arn: Attributes?.QueueArn }] }));

    const all = [...POSITIVES, ...NEGATIVES, FOREIGN].map(sample).concat(Object.values(CONTROLS), [SWEEP_OWN_CALL]);
    for (let start = 0; start < all.length; start += 10) {
      const { FailedEntryCount, Entries } = await events.send(new PutEventsCommand({ Entries: all.slice(start, start + 10).map(entryOf) }));
      if (FailedEntryCount) throw new Error(`PutEvents failed: ${JSON.stringify(Entries)}`);
    }

    // moto delivers to the target during PutEvents: drain until the queue answers empty twice.
    for (let empty = 0; empty < 2;) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      if (Messages.length === 0) empty += 1;
      for (const message of Messages) arrived.add((JSON.parse(message.Body ?? '{}') as Json).detail?.eventID);
    }
  }, CLI_TIMEOUT);

  afterAll(async () => {
    await events?.send(new RemoveTargetsCommand({ Rule: ruleName, Ids: ['settle-queue'] })).catch(() => undefined);
    await events?.send(new DeleteRuleCommand({ Name: ruleName })).catch(() => undefined);
    if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => undefined);
    events?.destroy();
    sqs?.destroy();
  });

  it('is the packaged pattern, with only the guard role\'s ARN filled in', () => {
    expect(JSON.stringify(pattern)).toContain(GUARD_ROLE_ARN);
  });

  it.each(POSITIVES)('delivers %s', (file) => {
    expect(arrived).toContain(sample(file).detail.eventID);
  });

  it.each(NEGATIVES)('does not deliver %s', (file) => {
    expect(arrived).not.toContain(sample(file).detail.eventID);
  });

  it('does not deliver the sweep role\'s own calls either', () => {
    expect(arrived).not.toContain(SWEEP_OWN_CALL.detail.eventID);
  });

  it(`delivers ${FOREIGN} (the handler ignores it; a default bus only carries its own account's events)`, () => {
    expect(arrived).toContain(sample(FOREIGN).detail.eventID);
  });

  it.each(Object.keys(CONTROLS))('delivers %s: the negative was excluded for that reason only', (name) => {
    expect(arrived).toContain(CONTROLS[name].detail.eventID);
  });

  it('delivers nothing else', () => {
    const expected = [...POSITIVES, FOREIGN].map((file) => sample(file).detail.eventID).concat(Object.values(CONTROLS).map((event) => event.detail.eventID));
    expect([...arrived].sort()).toEqual(expected.sort());
  });
});
