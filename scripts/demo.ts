/**
 * `npm run demo`: the guard's main job on a laptop. Starts the local emulator, creates a customer
 * managed key and a small fleet of buckets in different states, delivers each bucket's CloudTrail event
 * to the real `enforceBucket` handler (real SDK clients), prints what it found and did, then deploys the
 * packaged stack to the emulator and runs `npm run doctor` against it, and stops the emulator. Account
 * mode: SSE_KMS_CUSTOMER_MANAGED with the demo key.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudTrailClient, CreateTrailCommand, StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import { CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, PutBucketEncryptionCommand, PutBucketTaggingCommand, S3Client, type ServerSideEncryptionByDefault } from '@aws-sdk/client-s3';
import type { BareEventResult } from '../handlers/bucket-event';
import type { Finding, RuleView } from '../lib/finding';
import { VIOLATION_TEXT } from '../lib/violation-text';
import { main as doctor } from './doctor';
import { emulatorEnv, startEmulator } from './emulator';
import { deployToEmulator } from './emulator-stack';
import { table } from './text-table';

const REGION = 'us-east-1';

interface DemoBucket {
  name: string;
  eventName: 'CreateBucket' | 'PutBucketEncryption' | 'PutBucketTagging';
  encryption?: ServerSideEncryptionByDefault;
  tags?: Record<string, string>;
}

const short = (keyId: string | undefined, names: Map<string, string>): string =>
  keyId ? names.get(keyId) ?? `key …${keyId.slice(-6)}` : 'aws/s3';

const describeRule = (rule: RuleView | undefined, names: Map<string, string>): string => {
  if (rule === undefined) return '';
  if (rule === null) return 'none';
  if (rule.algorithm === 'AES256') return 'AES256';
  return `${rule.algorithm} ${short(rule.kmsKeyId, names)}`;
};

const main = async (): Promise<void> => {
  const started = Date.now();
  console.log('Starting the local AWS emulator (moto server)…');
  const emulator = await startEmulator();
  try {
    const env = emulatorEnv(emulator.endpoint);
    const s3 = new S3Client({ region: REGION, endpoint: emulator.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const kms = new KMSClient({ region: REGION, endpoint: emulator.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const createKey = async (description: string): Promise<string> => {
      const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: description, KeyUsage: 'ENCRYPT_DECRYPT', KeySpec: 'SYMMETRIC_DEFAULT' }));
      return KeyMetadata!.Arn!;
    };
    const orgKey = await createKey('organisation key (KMS_KEY_ARN)');
    const teamKey = await createKey('a team\'s own key');
    const retiredKey = await createKey('a retired key');
    await kms.send(new DisableKeyCommand({ KeyId: retiredKey.split('/')[1] }));
    const keyNames = new Map([[orgKey, 'org-key'], [teamKey, 'team-key'], [retiredKey, 'retired-key']]);

    const fleet: DemoBucket[] = [
      { name: 'demo-new-bucket', eventName: 'CreateBucket' },
      { name: 'demo-sse-s3', eventName: 'PutBucketEncryption', encryption: { SSEAlgorithm: 'AES256' } },
      { name: 'demo-aws-managed-kms', eventName: 'PutBucketEncryption', encryption: { SSEAlgorithm: 'aws:kms' } },
      { name: 'demo-team-key', eventName: 'PutBucketEncryption', encryption: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: teamKey } },
      { name: 'demo-retired-key', eventName: 'PutBucketEncryption', encryption: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: retiredKey } },
      { name: 'demo-org-key', eventName: 'PutBucketEncryption', encryption: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: orgKey } },
      { name: 'demo-dsse', eventName: 'PutBucketEncryption', encryption: { SSEAlgorithm: 'aws:kms:dsse', KMSMasterKeyID: orgKey } },
      { name: 'demo-exempt', eventName: 'PutBucketTagging', tags: { 'encryption-guard:exempt': 'true' } },
      { name: 'demo-tagged-dsse', eventName: 'PutBucketTagging', encryption: { SSEAlgorithm: 'AES256' }, tags: { 'encryption-guard:mode': 'DSSE_KMS' } },
      { name: 'demo-customer-keys', eventName: 'PutBucketTagging', encryption: { SSEAlgorithm: 'AES256' }, tags: { 'encryption-guard:mode': 'SSE_C' } },
    ];
    for (const bucket of fleet) {
      await s3.send(new CreateBucketCommand({ Bucket: bucket.name }));
      if (bucket.encryption) {
        await s3.send(new PutBucketEncryptionCommand({ Bucket: bucket.name, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: bucket.encryption }] } }));
      }
      if (bucket.tags) {
        await s3.send(new PutBucketTaggingCommand({ Bucket: bucket.name, Tagging: { TagSet: Object.entries(bucket.tags).map(([Key, Value]) => ({ Key, Value })) } }));
      }
    }
    console.log(`Created ${fleet.length} buckets and 3 keys; account mode SSE_KMS_CUSTOMER_MANAGED with org-key.\n`);

    // The handler reads its configuration at load, as a Lambda container does at cold start.
    Object.assign(process.env, env, {
      ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED',
      KMS_KEY_ARN: orgKey,
      POWERTOOLS_LOG_LEVEL: process.env.DEMO_LOGS === 'true' ? 'INFO' : 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { handler } = require('../handlers/bucket-event') as { handler: (event: unknown) => Promise<BareEventResult> };
    const sample = JSON.parse(readFileSync(join(__dirname, '..', 'events', 'create-bucket.json'), 'utf8'));
    const eventFor = (bucket: DemoBucket) => ({
      ...sample,
      id: randomUUID(),
      time: new Date().toISOString(),
      detail: { ...sample.detail, eventName: bucket.eventName, eventID: randomUUID(), eventTime: new Date().toISOString(), requestParameters: { bucketName: bucket.name, Host: `${bucket.name}.s3.amazonaws.com` } },
    });

    const deliver = async (): Promise<Finding[]> => {
      const findings: Finding[] = [];
      for (const bucket of fleet) {
        const result = await handler(eventFor(bucket));
        if (result.finding) findings.push(result.finding);
        else throw new Error(`event for ${bucket.name} was not evaluated: ${result.ignored ?? result.notEvaluated}`);
      }
      return findings;
    };

    const findings = await deliver();
    console.log(table([
      ['bucket', 'required mode', 'found', 'verdict', 'action', 'now', 'what was wrong (finding code)'],
      ...findings.map((f) => [
        f.bucket,
        f.mode ? `${f.mode}${f.modeSource === 'tag' ? ' (tag)' : ''}` : '—',
        describeRule(f.before, keyNames),
        f.verdict,
        f.action,
        f.action === 'REMEDIATED' ? [describeRule(f.after ?? f.before, keyNames), f.policyAfter ? '+ policy statement' : ''].filter(Boolean).join(' ') : 'unchanged',
        f.violations.filter((v) => v.severity === 'violation').map((v) => `${VIOLATION_TEXT[v.code]} (${v.code})`).join('; ') || f.exemptReason || '',
      ]),
    ]));

    const count = (key: 'verdict' | 'action'): string => {
      const counts = new Map<string, number>();
      for (const f of findings) counts.set(f[key], (counts.get(f[key]) ?? 0) + 1);
      return [...counts].map(([name, n]) => `${n} ${name}`).join(', ');
    };
    console.log(`\nVerdicts: ${count('verdict')}.\nActions:  ${count('action')}.`);

    const again = await deliver();
    const writes = again.filter((f) => f.action === 'REMEDIATED').length;
    console.log(`Delivered the same events again: ${writes} bucket${writes === 1 ? '' : 's'} written (idempotent).`);

    const example = findings.find((f) => f.bucket === 'demo-team-key');
    console.log(`\nEach evaluation is logged as one finding (message "bucket evaluated"), e.g.:\n${JSON.stringify(example, null, 2)}`);
    // Loaded now, like the handler above: Powertools reads the environment set for the demo.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { demoReencryption } = require('./demo-reencrypt') as typeof import('./demo-reencrypt');
    await demoReencryption({ ...process.env as Record<string, string>, REENCRYPT_QUEUE_NAME: '' }, 'demo-sse-s3', { org: orgKey, team: teamKey }, keyNames);

    // The doctor needs the deployed stack and the account's trail: both made here, on the emulator.
    console.log('\nDeploying the packaged stack to the emulator for the doctor (serverless package, then CloudFormation; about 15 s)…');
    const stack = await deployToEmulator({ endpoint: emulator.endpoint, region: REGION, stage: 'dev', params: { encryptionMode: 'SSE_KMS_CUSTOMER_MANAGED', kmsKeyArn: orgKey } });
    await s3.send(new CreateBucketCommand({ Bucket: 'demo-account-trail-logs' }));
    const cloudtrail = new CloudTrailClient({ region: REGION, endpoint: emulator.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await cloudtrail.send(new CreateTrailCommand({ Name: 'account-trail', S3BucketName: 'demo-account-trail-logs', IsMultiRegionTrail: true }));
    await cloudtrail.send(new StartLoggingCommand({ Name: 'account-trail' }));
    console.log(`Stack ${stack.stackName} created (the emulator cannot create ${stack.left.length} resources: alarms, dashboard, saved queries, policies).`);
    console.log(`\n$ AWS_ENDPOINT_URL=${emulator.endpoint} npm run doctor -- --region ${REGION}\n`);
    const code = await doctor(['--region', REGION], { ...process.env, ...env }, (text) => console.log(text));
    console.log(`\nThe doctor exited ${code}: ${code === 0 ? 'nothing FAILs' : 'something FAILs'}. On the emulator, "who would break" cannot run (no iam:SimulatePrincipalPolicy) and the organisation key has rotation off: both WARN.`);
    if (code !== 0) process.exitCode = 1;
    console.log(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Run \`DEMO_LOGS=true npm run demo\` to see the log lines too.`);
  } finally {
    await emulator.stop();
  }
};

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
