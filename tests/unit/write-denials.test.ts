/**
 * Denied guardrail writes, read from the context S3 puts in access-denied messages
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html).
 */
import { deniedGuardrailWrite } from '../../lib/write-denials';

const denied = (action: string, context: string) =>
  `User: arn:aws:sts::123456789012:assumed-role/s3-encryption-guard-prod-us-east-1-lambdaRole/fn is not authorized to perform: ${action} on resource: "arn:aws:s3:::app-data" ${context}`;

describe('a denied guardrail write', () => {
  it.each([
    ['PutPublicAccessBlock', denied('s3:PutBucketPublicAccessBlock', 'with an explicit deny in a service control policy'), /service control policy \(SCP\)/],
    ['PutBucketPolicy', denied('s3:PutBucketPolicy', 'with an explicit deny in a resource control policy'), /resource control policy \(RCP\)/],
  ] as const)('%s denied by the organisation is its setting, not a failure (%s)', (operation, message, owner) => {
    expect(deniedGuardrailWrite(operation, message)).toEqual({ code: 'OWNED_BY_ORGANIZATION', severity: 'warning', detail: expect.stringMatching(owner) });
  });

  it('a public policy refused under BlockPublicPolicy is POLICY_PUBLIC_BLOCKED', () => {
    const message = denied('s3:PutBucketPolicy', 'because public policies are prevented by the BlockPublicPolicy setting in S3 Block Public Access');
    expect(deniedGuardrailWrite('PutBucketPolicy', message)).toMatchObject({ code: 'POLICY_PUBLIC_BLOCKED', severity: 'violation' });
  });

  it.each([
    ['PutPublicAccessBlock', denied('s3:PutBucketPublicAccessBlock', 'because no identity-based policy allows the s3:PutBucketPublicAccessBlock action')],
    ['PutPublicAccessBlock', denied('s3:PutBucketPublicAccessBlock', 'with an explicit deny in a permissions boundary')],
    ['PutBucketPolicy', denied('s3:PutBucketPolicy', 'with an explicit deny in a resource-based policy')],
    ['PutBucketPolicy', 'Access Denied'],
    // A bare 403, or a VPC endpoint policy: the deployment's own problem, which must raise the alarm.
    ['PutPublicAccessBlock', 'Access Denied'],
    ['PutPublicAccessBlock', denied('s3:PutBucketPublicAccessBlock', 'with an explicit deny in a VPC endpoint policy')],
  ] as const)('%s denied by the guard\'s own role or the bucket policy stays a failure', (operation, message) => {
    expect(deniedGuardrailWrite(operation, message)).toBeUndefined();
  });
});
