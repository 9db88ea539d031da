/**
 * Re-keying existing objects as deployed with reencryptObjects on: the function, its FIFO queue, the
 * Batch Operations role and report bucket — passing cfn-lint — and least privilege: only the re-keying
 * function and the Batch Operations role may change objects' encryption, read objects, or use the keys.
 * (With the param off nothing of it is deployed: tests/template/template.test.ts.)
 */
import { GUARD_ROLE_PATH } from '../../lib/organization/names';
import { batchRoleArn } from '../../lib/reencrypt/batch-plan';
import { actionsOf, asArray, expectLintClean, expectPackaged, packageService, resourcesOfType, roleStatements, single, type StagedService, stageService, targetOf, type Template } from './serverless-cli';

const CLI_TIMEOUT = 180_000;
const KEY = 'arn:aws:kms:us-east-1:123456789012:key/1111aaaa-0000-4000-8000-000000000001';
const REENCRYPT_ROLE = 'ReencryptObjectsRole';
const BATCH_ROLE = 'BatchOperationsRole';
/** What re-keying needs and nothing else of the stack may have. */
const REKEYING_ACTIONS = ['s3:UpdateObjectEncryption', 's3:GetObject', 's3:GetObjectVersion', 'kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'iam:PassRole', 's3:CreateJob'];


describe('packaged template with reencryptObjects=enforce', () => {
  let service: StagedService;
  let template: Template;
  let templatePath: string;

  beforeAll(async () => {
    service = stageService();
    ({ template, templatePath } = expectPackaged(await packageService(service, { reencryptObjects: 'enforce', encryptionMode: 'SSE_KMS_CUSTOMER_MANAGED', kmsKeyArn: KEY })));
  }, CLI_TIMEOUT);
  afterAll(() => service?.remove());

  const reencryptFunction = () => single(resourcesOfType(template, 'AWS::Lambda::Function').filter(([, fn]) => fn.Properties.Handler === 'handlers/reencrypt.handler'), 'reencryptObjects');

  it('passes cfn-lint', () => {
    expectLintClean(templatePath);
  }, 120_000);

  it('keeps every role at the guard\'s IAM path, so the rule leaves out their calls; the re-keying function names the Batch Operations role by that path', () => {
    const roles = resourcesOfType(template, 'AWS::IAM::Role');
    expect(roles.map(([id]) => id)).toEqual(expect.arrayContaining([REENCRYPT_ROLE, BATCH_ROLE]));
    for (const [, role] of roles) expect(role.Properties.Path).toBe(GUARD_ROLE_PATH);
    const roleName = template.Resources[BATCH_ROLE].Properties.RoleName as string;
    expect(batchRoleArn({ roleName, reportBucketPrefix: 'unused' }, KEY, '123456789012')).toBe(`arn:aws:iam::123456789012:role${GUARD_ROLE_PATH}${roleName}`);
  });

  it('feeds reencryptObjects, running as its own role, from an encrypted FIFO queue with a FIFO dead-letter queue, one message at a time', () => {
    const [id, fn] = reencryptFunction();
    expect(targetOf(fn.Properties.Role)).toBe(REENCRYPT_ROLE);
    const [, mapping] = single(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').filter(([, m]) => targetOf(m.Properties.FunctionName) === id), 'its event source');
    expect(mapping.Properties).toMatchObject({ BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    const queue = template.Resources[targetOf(mapping.Properties.EventSourceArn)!].Properties;
    expect(queue).toMatchObject({ FifoQueue: true, SqsManagedSseEnabled: true });
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn.Properties.Timeout);
    expect(template.Resources[targetOf(queue.RedrivePolicy.deadLetterTargetArn)!].Properties).toMatchObject({ FifoQueue: true });
    // Names, not Refs (serverless invoke local): they match the resources'.
    expect(fn.Properties.Environment.Variables).toMatchObject({
      REENCRYPT_OBJECTS: 'enforce', REENCRYPT_QUEUE_NAME: queue.QueueName,
      REENCRYPT_BATCH_ROLE_NAME: template.Resources[BATCH_ROLE].Properties.RoleName,
      REENCRYPT_REPORT_BUCKET_PREFIX: 's3-encryption-guard-dev-rekey',
    });
    expect(template.Resources.ReencryptReportBucket.Properties.BucketName).toEqual({ 'Fn::Sub': 's3-encryption-guard-dev-rekey-${AWS::AccountId}-${AWS::Region}' });
    expect(queue.QueueName).toBe('s3-encryption-guard-dev-reencrypt.fifo');
  });

  it('lets only the re-keying function and the Batch Operations role change objects\' encryption, read objects (the sweep: only its completion reports), use the keys, start jobs', () => {
    const roles = resourcesOfType(template, 'AWS::IAM::Role').map(([id]) => id);
    expect(roles).toEqual(expect.arrayContaining([REENCRYPT_ROLE, BATCH_ROLE, 'IamRoleLambdaExecution', 'SweepBucketsRole']));
    for (const role of roles) {
      const granted = [...new Set(actionsOf(template, role).filter((action) => REKEYING_ACTIONS.includes(action)))];
      if (role === REENCRYPT_ROLE) expect(granted.sort()).toEqual([...REKEYING_ACTIONS].sort());
      else if (role === BATCH_ROLE) expect(granted.sort()).toEqual(REKEYING_ACTIONS.filter((action) => action !== 'iam:PassRole' && action !== 's3:CreateJob').sort());
      else if (role === 'SweepBucketsRole') {
        // The sweep reads the completion reports, and only those: objects of the stack's own report bucket.
        expect({ role, granted }).toEqual({ role, granted: ['s3:GetObject'] });
        const reads = roleStatements(template, role).filter((statement) => asArray<string>(statement.Action).includes('s3:GetObject'));
        expect(reads.map((statement) => statement.Resource)).toEqual([{ 'Fn::Sub': '${ReencryptReportBucket.Arn}/*' }]);
      } else expect({ role, granted }).toEqual({ role, granted: [] });
    }
    // The bucket path only hands buckets over; the sweep also tracks the jobs.
    expect(actionsOf(template, 'IamRoleLambdaExecution')).toContain('sqs:SendMessage');
    expect(actionsOf(template, 'SweepBucketsRole')).toEqual(expect.arrayContaining(['s3:ListJobs', 's3:DescribeJob', 's3:GetJobTagging', 's3:PutJobTagging']));
  });

  it('uses the listed key only through S3, objects of this account only, and passes only the Batch Operations role, only to Batch Operations', () => {
    for (const role of [REENCRYPT_ROLE, BATCH_ROLE]) {
      for (const statement of roleStatements(template, role)) {
        const actions = asArray<string>(statement.Action);
        if (actions.some((action) => ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'].includes(action))) expect(statement.Condition).toEqual({ StringLike: { 'kms:ViaService': 's3.*.amazonaws.com' } });
        if (actions.includes('kms:Encrypt')) expect(statement.Resource).toEqual([KEY]);
        if (actions.includes('s3:UpdateObjectEncryption')) expect(statement.Condition).toEqual({ StringEquals: { 's3:ResourceAccount': { 'Fn::Sub': '${AWS::AccountId}' } } });
      }
    }
    const passRole = single(roleStatements(template, REENCRYPT_ROLE).filter((s) => asArray(s.Action).includes('iam:PassRole')).map((s) => ['', s] as [string, any]), 'PassRole')[1];
    expect(targetOf(passRole.Resource)).toBe(BATCH_ROLE);
    expect(passRole.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'batchoperations.s3.amazonaws.com' } });
    expect(template.Resources[BATCH_ROLE].Properties.AssumeRolePolicyDocument.Statement).toEqual([expect.objectContaining({
      Principal: { Service: 'batchoperations.s3.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': { 'Fn::Sub': '${AWS::AccountId}' } } },
    })]);
  });

  it('writes completion reports to a private, TLS-only bucket of the stack that expires them', () => {
    const bucket = template.Resources.ReencryptReportBucket.Properties;
    expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.LifecycleConfiguration.Rules[0]).toMatchObject({ Status: 'Enabled', ExpirationInDays: 90 });
  });

  it('charts ObjectsReencrypted and ObjectReencryptionFailures, and alarms on the failures', () => {
    const dashboard = JSON.stringify(single(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'), 'dashboard')[1].Properties.DashboardBody);
    expect(dashboard).toContain('ObjectsReencrypted');
    expect(dashboard).toContain('ObjectReencryptionFailures');
    const alarm = single(resourcesOfType(template, 'AWS::CloudWatch::Alarm').filter(([, a]) => a.Properties.MetricName === 'ObjectReencryptionFailures'), 'failure alarm')[1];
    expect(alarm.Properties).toMatchObject({ Namespace: 'S3EncryptionGuard', Dimensions: [{ Name: 'service', Value: 's3-encryption-guard' }], Threshold: 1 });
  });
});
