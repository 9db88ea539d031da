/**
 * The hub's parts that decide without AWS, or with its SDK mocked: where it may act, the member-role
 * credentials it keeps, the organisation's account list, and the sweep's messages.
 */
import { ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type { OrganizationSettings } from '../../lib/config';
import { createMemberCredentials, MemberRoleUnavailableError, REFUSAL_MEMORY_MS, RENEW_BEFORE_MS } from '../../lib/organization/member-credentials';
import { guardRoleArnPrefix, memberRoleArn } from '../../lib/organization/names';
import { listActiveAccounts } from '../../lib/organization/org-accounts';
import { createAccountScope, ORGANIZATION_ACCOUNTS_TTL_MS } from '../../lib/organization/scope';
import { PAGE_MESSAGE_MAX_BUCKETS, parseSweepMessage, progressId } from '../../lib/organization/sweep-messages';
import { batchesOf } from '../../lib/organization/sweep-queue';
import { s3Error } from './aws-mocks';

const HUB = '999999999999';
const A = '111111111111';
const B = '222222222222';
const settings = (extra: Partial<OrganizationSettings> = {}): OrganizationSettings => ({ mode: 'hub', memberAccounts: [], memberRoleName: 's3-encryption-guard-member', ...extra });

describe('names', () => {
  it('puts every guard role under one path, so one ARN prefix covers them all', () => {
    expect(guardRoleArnPrefix('aws', A)).toBe(`arn:aws:iam::${A}:role/s3-encryption-guard/`);
    expect(memberRoleArn('aws-cn', A, 'guard-member')).toBe(`arn:aws-cn:iam::${A}:role/s3-encryption-guard/guard-member`);
  });
});

describe('the hub\'s scope', () => {
  it('always includes the hub\'s own account', async () => {
    const scope = createAccountScope({ settings: settings({ memberAccounts: [A] }), homeAccount: HUB, organizationAccounts: () => Promise.reject(new Error('not asked')) });
    await expect(scope.check(HUB)).resolves.toEqual({ ok: true });
  });

  it('with memberAccounts: those accounts and no others, without asking Organizations', async () => {
    const organizationAccounts = jest.fn(() => Promise.resolve([B]));
    const scope = createAccountScope({ settings: settings({ memberAccounts: [A], organizationId: 'o-a1b2c3d4e5' }), homeAccount: HUB, organizationAccounts });
    await expect(scope.check(A)).resolves.toEqual({ ok: true });
    await expect(scope.check(B)).resolves.toEqual({ ok: false, reason: `account ${B} is not in memberAccounts; the hub acts only in ${HUB}, ${A}` });
    await expect(scope.accounts()).resolves.toEqual([HUB, A]);
    expect(organizationAccounts).not.toHaveBeenCalled();
  });

  it('without memberAccounts: the organisation\'s active accounts, listed once per ten minutes', async () => {
    let clock = 0;
    const organizationAccounts = jest.fn(() => Promise.resolve([B, A, HUB]));
    const scope = createAccountScope({ settings: settings({ organizationId: 'o-a1b2c3d4e5' }), homeAccount: HUB, organizationAccounts, now: () => clock });
    await expect(scope.check(A)).resolves.toEqual({ ok: true });
    await expect(scope.check(B)).resolves.toEqual({ ok: true });
    await expect(scope.accounts()).resolves.toEqual([HUB, A, B]);
    expect(organizationAccounts).toHaveBeenCalledTimes(1);
    clock = ORGANIZATION_ACCOUNTS_TTL_MS;
    await scope.check(A);
    expect(organizationAccounts).toHaveBeenCalledTimes(2);
  });

  it('lists again before refusing an account it has not seen for a minute (it may have just joined), then refuses with the reason', async () => {
    let clock = 0;
    const organizationAccounts = jest.fn().mockResolvedValueOnce([A]).mockResolvedValueOnce([A]).mockResolvedValueOnce([A, B]);
    const scope = createAccountScope({ settings: settings({ organizationId: 'o-a1b2c3d4e5' }), homeAccount: HUB, organizationAccounts, now: () => clock });
    await expect(scope.check(B)).resolves.toEqual({ ok: false, reason: `account ${B} is not an active account of organization o-a1b2c3d4e5` });
    expect(organizationAccounts).toHaveBeenCalledTimes(1); // the list was fresh
    clock = 61_000;
    await expect(scope.check(B)).resolves.toEqual({ ok: false, reason: expect.stringContaining('not an active account') });
    expect(organizationAccounts).toHaveBeenCalledTimes(2);
    clock = 130_000;
    await expect(scope.check(B)).resolves.toEqual({ ok: true });
  });

  it('does not keep a failed listing: the next check asks again', async () => {
    const organizationAccounts = jest.fn().mockRejectedValueOnce(s3Error('AccessDeniedException', 400)).mockResolvedValueOnce([A]);
    const scope = createAccountScope({ settings: settings({ organizationId: 'o-a1b2c3d4e5' }), homeAccount: HUB, organizationAccounts });
    await expect(scope.check(A)).rejects.toThrow('AccessDeniedException');
    await expect(scope.check(A)).resolves.toEqual({ ok: true });
  });
});

describe('the organisation\'s accounts', () => {
  const organizations = mockClient(OrganizationsClient);
  beforeEach(() => organizations.reset());

  it('are the ACTIVE accounts of every page (State, or the retiring Status)', async () => {
    organizations.on(ListAccountsCommand)
      .resolvesOnce({ Accounts: [{ Id: A, State: 'ACTIVE' }, { Id: '333333333333', State: 'SUSPENDED' }], NextToken: 'next' })
      .resolvesOnce({ Accounts: [{ Id: B, Status: 'ACTIVE' }, { Id: '444444444444', State: 'PENDING_CLOSURE' }] });
    await expect(listActiveAccounts(new OrganizationsClient({ region: 'us-east-1' }))).resolves.toEqual([A, B]);
    expect(organizations.commandCalls(ListAccountsCommand)[1]!.args[0].input).toEqual({ NextToken: 'next' });
  });
});

describe('member-role credentials', () => {
  const sts = mockClient(STSClient);
  const client = new STSClient({ region: 'us-east-1', maxAttempts: 1 });
  const expiringAt = (ms: number) => ({ Credentials: { AccessKeyId: `AK${ms}`, SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(ms) } });
  beforeEach(() => sts.reset());

  it('assumes the member role at the guard path, and keeps the credentials until five minutes before they expire', async () => {
    let clock = 0;
    sts.on(AssumeRoleCommand).resolvesOnce(expiringAt(3_600_000)).resolvesOnce(expiringAt(7_200_000));
    const credentials = createMemberCredentials({ sts: () => client, partition: 'aws', roleName: 'guard-member', now: () => clock });
    await expect(credentials(A)).resolves.toMatchObject({ accessKeyId: 'AK3600000', accountId: A });
    clock = 3_600_000 - RENEW_BEFORE_MS - 1;
    await expect(credentials(A)).resolves.toMatchObject({ accessKeyId: 'AK3600000' });
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    expect(sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input).toEqual({
      RoleArn: `arn:aws:iam::${A}:role/s3-encryption-guard/guard-member`, RoleSessionName: 's3-encryption-guard-hub', DurationSeconds: 3600,
    });
    clock += 1;
    await expect(credentials(A)).resolves.toMatchObject({ accessKeyId: 'AK7200000' });
  });

  it('shares one AssumeRole among the concurrent evaluations of an account, and keeps accounts apart', async () => {
    sts.on(AssumeRoleCommand).callsFake(async ({ RoleArn }: { RoleArn: string }) => ({ Credentials: { ...expiringAt(3_600_000).Credentials, AccessKeyId: RoleArn.split(':')[4] } }));
    const credentials = createMemberCredentials({ sts: () => client, partition: 'aws', roleName: 'r', now: () => 0 });
    const got = await Promise.all([credentials(A), credentials(A), credentials(B)]);
    expect(got.map((c) => c.accessKeyId)).toEqual([A, A, B]);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
  });

  it('turns a refusal into MemberRoleUnavailableError, remembered for a minute', async () => {
    let clock = 0;
    sts.on(AssumeRoleCommand).rejects(s3Error('AccessDenied', 403));
    const credentials = createMemberCredentials({ sts: () => client, partition: 'aws', roleName: 'r', now: () => clock });
    const refusal = await credentials(A).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(MemberRoleUnavailableError);
    expect(refusal).toMatchObject({ account: A, roleArn: memberRoleArn('aws', A, 'r'), message: expect.stringContaining('AccessDenied') });
    await expect(credentials(A)).rejects.toBeInstanceOf(MemberRoleUnavailableError);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    clock = REFUSAL_MEMORY_MS;
    await expect(credentials(A)).rejects.toBeInstanceOf(MemberRoleUnavailableError);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
  });

  it('treats an answer without credentials as a refusal, asked again after a minute (never kept for good)', async () => {
    let clock = 0;
    sts.on(AssumeRoleCommand).resolvesOnce({}).resolves(expiringAt(3_600_000));
    const credentials = createMemberCredentials({ sts: () => client, partition: 'aws', roleName: 'r', now: () => clock });
    await expect(credentials(A)).rejects.toThrow('STS AssumeRole returned no credentials');
    clock = REFUSAL_MEMORY_MS;
    await expect(credentials(A)).resolves.toMatchObject({ accessKeyId: 'AK3600000' });
  });

  it('passes throttling on as it is (worth a retry now), and asks again next time', async () => {
    sts.on(AssumeRoleCommand).rejectsOnce(s3Error('Throttling', 400, { $retryable: { throttling: true } })).resolves(expiringAt(3_600_000));
    const credentials = createMemberCredentials({ sts: () => client, partition: 'aws', roleName: 'r', now: () => 0 });
    const error = await credentials(A).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(MemberRoleUnavailableError);
    expect(error).toMatchObject({ name: 'Throttling' });
    await expect(credentials(A)).resolves.toMatchObject({ accessKeyId: 'AK3600000' });
  });
});

describe('sweep messages', () => {
  const page = { kind: 'page', sweepId: 'sweep-1', account: A, page: 3, buckets: [{ name: 'b-1', region: 'eu-west-1' }, { name: 'b-2' }] };

  it('round-trip an account message and a page message', () => {
    expect(parseSweepMessage(JSON.stringify({ kind: 'account', sweepId: 'sweep-1', account: A }))).toEqual({ kind: 'account', sweepId: 'sweep-1', account: A });
    expect(parseSweepMessage(JSON.stringify(page))).toEqual(page);
  });

  it('name what each message accounts for in the progress', () => {
    expect(progressId({ kind: 'account', sweepId: 's', account: A })).toBe(`account:${A}`);
    expect(progressId(page as Parameters<typeof progressId>[0])).toBe(`page:${A}:3`);
  });

  it.each([
    ['not JSON', '{', 'not JSON'],
    ['no sweep id', JSON.stringify({ kind: 'account', account: A }), 'no valid sweepId'],
    ['an account that is not 12 digits', JSON.stringify({ kind: 'account', sweepId: 's', account: '1234' }), 'no valid account'],
    ['an unknown kind', JSON.stringify({ kind: 'bucket', sweepId: 's', account: A }), 'unknown kind "bucket"'],
    ['a negative page', JSON.stringify({ ...page, page: -1 }), 'no valid page number'],
    ['an empty page', JSON.stringify({ ...page, buckets: [] }), 'no valid bucket list'],
    ['too many buckets', JSON.stringify({ ...page, buckets: Array.from({ length: PAGE_MESSAGE_MAX_BUCKETS + 1 }, (_, i) => ({ name: `b-${i}` })) }), 'no valid bucket list'],
    ['a bucket name with a slash', JSON.stringify({ ...page, buckets: [{ name: '../x' }] }), 'a bucket without a valid name'],
    ['a made-up region', JSON.stringify({ ...page, buckets: [{ name: 'b-1', region: 'mars' }] }), 'bucket b-1 has no valid region'],
  ])('refuse %s with a reason', (_, body, reason) => {
    expect(parseSweepMessage(body)).toBe(reason);
  });

  it('go out in batches within SQS\'s limits: 10 entries, and 200 KB', () => {
    expect(batchesOf(Array.from({ length: 23 }, () => 'x')).map((batch) => batch.length)).toEqual([10, 10, 3]);
    const large = 'y'.repeat(90_000);
    expect(batchesOf([large, large, large, 'z']).map((batch) => batch.length)).toEqual([2, 2]);
  });
});
