/**
 * The re-keying part of `npm run demo`: a small bucket whose default rule the guard just moved to the
 * organisation key still holds objects under SSE-S3, another key and SSE-C. `report` estimates, `enforce`
 * re-keys in place (the emulator's UpdateObjectEncryption), through the real `reencryptObjects` handler;
 * its queue is kept in memory here (SQS in the stack).
 */
import { createHash, randomUUID } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand, type PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import type { SQSEvent } from 'aws-lambda';
import { createReencryptHandler } from '../handlers/reencrypt';
import { createGuard } from '../lib/guard';
import { firstMessage, type ReencryptMessage } from '../lib/reencrypt/message';
import type { ReencryptFinding } from '../lib/reencrypt/report';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

const asEvent = (message: ReencryptMessage): SQSEvent => ({
  Records: [{
    messageId: randomUUID(), receiptHandle: 'demo', body: JSON.stringify(message), attributes: { MessageGroupId: message.bucket } as SQSEvent['Records'][0]['attributes'],
    messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo.fifo`, awsRegion: REGION,
  }],
});

/** Runs one pass over the bucket in the given setting; returns its finding. */
const pass = async (env: Record<string, string>, setting: 'report' | 'enforce', bucket: string): Promise<ReencryptFinding> => {
  const guard = createGuard({ ...env, REENCRYPT_OBJECTS: setting });
  const queue: ReencryptMessage[] = [firstMessage({ bucket, region: REGION, account: ACCOUNT, trigger: { type: 'sweep', sweepId: 'demo' } }, Date.now())];
  const findings: ReencryptFinding[] = [];
  const handle = createReencryptHandler(guard, { enqueue: async (message) => { queue.push(message); }, finding: (f) => findings.push(f), ignored: () => undefined, batch: {}, pageSize: 5 });
  for (let message = queue.shift(); message; message = queue.shift()) await handle(asEvent(message));
  if (findings.length !== 1) throw new Error(`expected one finding, got ${findings.length}`);
  return findings[0];
};

export const demoReencryption = async (env: Record<string, string>, bucket: string, keys: { org: string; team: string }, names: Map<string, string>): Promise<void> => {
  const s3 = new S3Client({ region: REGION, endpoint: env.AWS_ENDPOINT_URL, forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const customerKey = Buffer.alloc(32, 1);
  const sseC = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customerKey.toString('base64'), SSECustomerKeyMD5: createHash('md5').update(customerKey).digest('base64') };
  const objects: Array<[string, Partial<PutObjectCommandInput>]> = [
    ...Array.from({ length: 6 }, (_, i): [string, Partial<PutObjectCommandInput>] => [`reports/2025-${i + 1}.csv`, { ServerSideEncryption: 'AES256' }]),
    ...Array.from({ length: 3 }, (_, i): [string, Partial<PutObjectCommandInput>] => [`team/${i}.json`, { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keys.team }]),
    ['secrets/a.bin', sseC], ['secrets/b.bin', sseC],
    ['already/ok.txt', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keys.org, BucketKeyEnabled: true }],
  ];
  for (const [Key, extra] of objects) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: `contents of ${Key}`, ...extra }));
  const etags = async () => Promise.all(objects.map(async ([Key, extra]) => (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key, ...('SSECustomerKey' in extra ? sseC : {}) }))).ETag));
  const etagsBefore = await etags();
  console.log(`\nExisting objects: ${bucket} holds ${objects.length} objects written before its rule changed (6 SSE-S3, 3 on team-key, 2 SSE-C, 1 on org-key).`);

  const estimate = await pass(env, 'report', bucket);
  console.log(`reencryptObjects=report — estimate, nothing changed:`);
  console.log(`  by encryption: ${Object.entries(estimate.before ?? {}).map(([kind, n]) => `${n} ${kind}`).join(', ')}`);
  console.log(`  UpdateObjectEncryption would re-key ${estimate.tally!.eligible.objects}; already on the key: ${estimate.tally!.alreadyOnTarget.objects}; needs a copy (never done): ${Object.entries(estimate.tally!.ineligible).map(([why, a]) => `${a!.objects} ${why}`).join(', ')}`);
  console.log(`  approximate cost: $${estimate.estimate!.usd.inline} inline, $${estimate.estimate!.usd.batchOperations} with Batch Operations`);

  const done = await pass(env, 'enforce', bucket);
  console.log(`reencryptObjects=enforce — ${done.outcome}: ${Object.values(done.tally!.reencrypted).reduce((a, b) => a! + b!, 0)} objects re-keyed in place to ${names.get(done.target?.kind === 'kms' ? done.target.keyArn : '') ?? 'the listed key'} with a bucket key`);
  console.log(`  after: ${Object.entries(done.after ?? {}).map(([kind, n]) => `${n} ${kind}`).join(', ')}; ETags unchanged: ${JSON.stringify(await etags()) === JSON.stringify(etagsBefore)}`);
  const again = await pass(env, 'enforce', bucket);
  console.log(`  a second pass re-keys ${Object.keys(again.tally!.reencrypted).length === 0 ? 'nothing' : 'again?!'} (${again.tally!.eligible.objects} eligible)`);
};
