/**
 * `npm run doctor` against the emulator: the packaged stack created through the emulator's CloudFormation
 * (scripts/emulator-stack.ts) in its own region and stage, a trail, and a listed key — healthy first
 * (exit 0), then broken the four ways a deployment fails silently: the trail stopped, the rule disabled,
 * a message in a dead-letter queue, the key disabled (exit 1, each named).
 */
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { CloudTrailClient, CreateTrailCommand, StartLoggingCommand, StopLoggingCommand } from '@aws-sdk/client-cloudtrail';
import { DisableRuleCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateKeyCommand, DisableKeyCommand, EnableKeyRotationCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Check } from '../../lib/doctor/check';
import { main } from '../../scripts/doctor';
import { deployToEmulator } from '../../scripts/emulator-stack';
import { useEmulator } from '../emulator-env';
import { stageService, type StagedService } from '../template/serverless-cli';

const REGION = 'eu-west-1';
const STAGE = 'doctor';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

let endpoint: string;
let service: StagedService;
let keyArn: string;
let resources: Map<string, string>;
const clients = () => ({ region: REGION, endpoint, credentials });

/** The doctor as `npm run doctor -- --json` runs it, in-process: exit code and checks by id. */
const doctor = async (): Promise<{ code: number; checks: Record<string, Check>; output: string }> => {
  let output = '';
  const env = { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
  const code = await main(['--stage', STAGE, '--region', REGION, '--json'], env, (text) => { output += text; });
  const parsed = JSON.parse(output) as { checks: Check[] };
  return { code, output, checks: Object.fromEntries(parsed.checks.map((check) => [check.id, check])) };
};

beforeAll(async () => {
  endpoint = useEmulator();
  const kms = new KMSClient(clients());
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'doctor test key', KeyUsage: 'ENCRYPT_DECRYPT', KeySpec: 'SYMMETRIC_DEFAULT' }));
  keyArn = KeyMetadata!.Arn!;
  await kms.send(new EnableKeyRotationCommand({ KeyId: KeyMetadata!.KeyId }));

  // The account's trail: the guard depends on one, it does not create it by default.
  const s3 = new S3Client({ ...clients(), forcePathStyle: true });
  const trailBucket = `doctor-trail-${Date.now().toString(36)}`;
  await s3.send(new CreateBucketCommand({ Bucket: trailBucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  const cloudtrail = new CloudTrailClient(clients());
  await cloudtrail.send(new CreateTrailCommand({ Name: 'account-trail', S3BucketName: trailBucket, IsMultiRegionTrail: true }));
  await cloudtrail.send(new StartLoggingCommand({ Name: 'account-trail' }));

  service = stageService();
  await deployToEmulator({ endpoint, region: REGION, stage: STAGE, serviceDir: service.dir, params: { encryptionMode: 'SSE_KMS_CUSTOMER_MANAGED', kmsKeyArn: keyArn } });
  const { StackResourceSummaries = [] } = await new CloudFormationClient(clients()).send(new ListStackResourcesCommand({ StackName: `s3-encryption-guard-${STAGE}` }));
  resources = new Map(StackResourceSummaries.map((summary) => [summary.LogicalResourceId!, summary.PhysicalResourceId!]));
}, 240_000);
afterAll(() => service?.remove());

describe('npm run doctor against the emulator', () => {
  it('passes a healthy set-up (exit 0): stack, configuration, trail, rule, queues, key, organisation', async () => {
    const { code, checks, output } = await doctor();
    expect({ code, output }).toMatchObject({ code: 0 });
    for (const id of ['stack', 'config', 'trail', 'rule', 'settle-queue', 'settle-dlq', 'delivery-dlq', 'sweep-dlq', `key:${keyArn}`, 'org-controls']) {
      expect({ id, status: checks[id]?.status }).toEqual({ id, status: 'PASS' });
    }
    expect(checks.config.detail).toContain('mode SSE_KMS_CUSTOMER_MANAGED');
    expect(checks.trail.detail).toContain('"account-trail"');
    // The emulator has no iam:SimulatePrincipalPolicy (HTTP 500): said, never a crash, never a FAIL.
    expect(checks['kms-access']).toEqual({ id: 'kms-access', status: 'WARN', detail: expect.stringMatching(/^who would break could not be run \(iam:SimulatePrincipalPolicy failed: /) });
  });

  it('fails a broken set-up (exit 1), naming each fault: trail stopped, rule disabled, a message in a dead-letter queue, key disabled', async () => {
    await new CloudTrailClient(clients()).send(new StopLoggingCommand({ Name: 'account-trail' }));
    await new EventBridgeClient(clients()).send(new DisableRuleCommand({ Name: resources.get('BucketEventsRule') }));
    await new SQSClient(clients()).send(new SendMessageCommand({ QueueUrl: resources.get('SettleDeadLetterQueue'), MessageBody: '{"detail":{"eventName":"PutBucketEncryption"}}' }));
    // The emulator disables keys by id, not ARN.
    await new KMSClient(clients()).send(new DisableKeyCommand({ KeyId: keyArn.split('/')[1] }));

    const { code, checks } = await doctor();
    expect(code).toBe(1);
    expect(checks.trail).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('"account-trail" (account, multi-region) is not logging') });
    expect(checks.rule).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/is DISABLED: no bucket event reaches the guard; enable it/) });
    expect(checks['settle-dlq']).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/^1 message in the settle DLQ \(age unknown \(no CloudWatch datapoint in the last hour\)\)/) });
    expect(checks[`key:${keyArn}`]).toMatchObject({ status: 'FAIL', detail: expect.stringContaining(`key ${keyArn} is Disabled`) });
    // What was not broken still passes.
    for (const id of ['stack', 'config', 'settle-queue', 'delivery-dlq', 'sweep-dlq']) expect({ id, status: checks[id].status }).toEqual({ id, status: 'PASS' });
  });
});
