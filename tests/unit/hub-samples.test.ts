/**
 * The samples of events/hub/ (for `serverless invoke local` of the hub's functions) say what the README
 * table says they are: a member account's event the hub evaluates, an event of an account outside its
 * scope it ignores with the reason, and one sweep work-queue message of each kind.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { parseBucketEvent } from '../../lib/cloudtrail-event';
import { createAccountScope } from '../../lib/organization/scope';
import { parseSweepMessage } from '../../lib/organization/sweep-messages';

const HUB_EVENTS = join(__dirname, '..', '..', 'events', 'hub');
const sample = (file: string): unknown => JSON.parse(readFileSync(join(HUB_EVENTS, file), 'utf8'));
const HUB_ACCOUNT = '123456789012';
/** The hub as the README's invoke-local line configures it: memberAccounts=111111111111. */
const scope = createAccountScope({
  settings: { mode: 'hub', memberAccounts: ['111111111111'], memberRoleName: 's3-encryption-guard-member' },
  homeAccount: HUB_ACCOUNT,
  organizationAccounts: () => Promise.reject(new Error('a listed scope never asks Organizations')),
});
const bodyOf = (file: string): string => (sample(file) as SQSEvent).Records[0].body;

describe('the sample events of events/hub/', () => {
  it('are these four, each described in events/README.md', () => {
    const files = readdirSync(HUB_EVENTS).sort();
    expect(files).toEqual(['member-create-bucket.json', 'outside-scope.json', 'sweep-account-message.json', 'sweep-page-message.json']);
    const readme = readFileSync(join(HUB_EVENTS, '..', 'README.md'), 'utf8');
    for (const file of files) expect(readme).toContain(`hub/${file}`);
  });

  it('member-create-bucket.json: a CreateBucket in member account 111111111111, eu-west-1, which the hub evaluates there', async () => {
    const parsed = parseBucketEvent(sample('member-create-bucket.json'), 'any');
    expect(parsed).toMatchObject({ ok: true, trigger: { bucket: 'example-team-a-exports-2026', account: '111111111111', region: 'eu-west-1', eventName: 'CreateBucket' } });
    await expect(scope.check('111111111111')).resolves.toEqual({ ok: true });
  });

  it('outside-scope.json: an event of account 444455556666, which the hub ignores with the reason', async () => {
    const parsed = parseBucketEvent(sample('outside-scope.json'), 'any');
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.trigger.account).toBe('444455556666');
    await expect(scope.check(parsed.trigger.account)).resolves.toEqual({ ok: false, reason: expect.stringMatching(/account 444455556666 is not in memberAccounts/) });
  });

  it('sweep-account-message.json: the coordinator\'s message for account 111111111111', () => {
    expect(parseSweepMessage(bodyOf('sweep-account-message.json'))).toEqual({ kind: 'account', sweepId: expect.any(String), account: '111111111111' });
  });

  it('sweep-page-message.json: a page of that account\'s buckets, each with its region, of the same sweep', () => {
    const page = parseSweepMessage(bodyOf('sweep-page-message.json'));
    expect(page).toEqual({
      kind: 'page', sweepId: (parseSweepMessage(bodyOf('sweep-account-message.json')) as { sweepId: string }).sweepId, account: '111111111111', page: 0,
      buckets: [{ name: 'example-team-a-exports-2026', region: 'eu-west-1' }, { name: 'example-team-a-logs-2026', region: 'us-east-1' }],
    });
  });

  it.each(['sweep-account-message.json', 'sweep-page-message.json'])('%s is an SQS event of the sweep work queue, batch of one', (file) => {
    const { Records } = sample(file) as SQSEvent;
    expect(Records).toHaveLength(1);
    expect(Records[0]).toMatchObject({ eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:s3-encryption-guard-dev-sweep-work' });
  });
});
