/** aws-sdk-client-mock helpers: errors shaped like the SDK's, and a guard wired to mocked clients. */
import { createClients } from '../../lib/aws-clients';
import type { GuardConfig } from '../../lib/config';
import type { Guard } from '../../lib/guard';
import { createAliasLookup } from '../../lib/key-aliases';
import { createKeyLookup } from '../../lib/key-lookup';
import { REGION } from './fixtures';

export const s3Error = (name: string, status: number, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(`${name} (simulated)`), { name, $metadata: { httpStatusCode: status }, $fault: status >= 500 ? 'server' : 'client', ...extra });

/** The guard as the Lambda wires it (real clients, which aws-sdk-client-mock intercepts), one attempt per call. */
export const testGuard = (config: GuardConfig): Guard => {
  const clients = createClients({ AWS_MAX_ATTEMPTS: '1' });
  return {
    config,
    s3: clients.s3,
    describeKey: createKeyLookup(clients.kms),
    keyAliases: createAliasLookup(clients.kms),
    identityOf: async (context) => ({ accountId: context?.invokedFunctionArn?.split(':')[4] ?? 'unknown', partition: context?.invokedFunctionArn?.split(':')[1] ?? 'aws' }),
    homeRegion: REGION,
    lambda: clients.lambda,
    events: clients.events,
    dynamodb: clients.dynamodb,
    calls: clients.calls,
    sqs: clients.sqs,
    s3control: clients.s3control,
    kms: clients.kms,
    sts: clients.sts,
    organizations: clients.organizations,
    clientsAs: (credentials) => createClients({ AWS_MAX_ATTEMPTS: '1' }, { credentials, calls: clients.calls }),
    // Verifying reads do not wait between attempts in unit specifications.
    sleep: async () => undefined,
  };
};
