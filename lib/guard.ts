/** Wiring of the real dependencies, once per container: configuration (validated at cold start) and clients. */
import { createIdentityResolver, type IdentityResolver } from './account';
import { type AwsClients, type CallCounts, createClients } from './aws-clients';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { loadConfig } from './config';
import type { GuardDeps } from './enforce';
import { createFlapLedger } from './flap-ledger';
import { createAliasLookup } from './key-aliases';
import { createKeyLookup } from './key-lookup';
import { createHandOff, type HandOff, queueSender } from './reencrypt/handoff';
import { logger } from './telemetry';

export interface Guard extends GuardDeps {
  /** The guard's own account and partition. */
  identityOf: IdentityResolver;
  /** The region the function runs in. */
  homeRegion: string;
  lambda: AwsClients['lambda'];
  /** EventBridge, for finding events (telemetry.ts). */
  events: AwsClients['events'];
  /** DynamoDB, for the flap-ledger table (the sweep's warning memory lives there too). */
  dynamodb: AwsClients['dynamodb'];
  /** AWS requests made by this container, by operation. */
  calls: CallCounts;
  /** Hands a compliant bucket to the re-keying queue (lib/reencrypt/); absent when re-keying is off. */
  handOff?: HandOff;
  sqs: AwsClients['sqs'];
  s3control: AwsClients['s3control'];
  kms: AwsClients['kms'];
  sts: AwsClients['sts'];
  /** The hub's account list (organization=hub without memberAccounts). */
  organizations: AwsClients['organizations'];
  /** Clients like these, signed with other credentials (the hub in a member account); calls counted here too. */
  clientsAs: (credentials: AwsCredentialIdentityProvider) => AwsClients;
}

export const createGuard = (env: Readonly<Record<string, string | undefined>> = process.env): Guard => {
  const config = loadConfig(env);
  const clients = createClients(env);
  const homeRegion = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return {
    config,
    s3: clients.s3,
    describeKey: createKeyLookup(clients.kms),
    keyAliases: createAliasLookup(clients.kms),
    identityOf: createIdentityResolver(() => clients.sts(homeRegion)),
    homeRegion,
    lambda: clients.lambda,
    events: clients.events,
    dynamodb: clients.dynamodb,
    calls: clients.calls,
    sqs: clients.sqs,
    s3control: clients.s3control,
    kms: clients.kms,
    sts: clients.sts,
    organizations: clients.organizations,
    clientsAs: (credentials) => createClients(env, { credentials, calls: clients.calls }),
    ...(config.reencrypt.objects !== 'off' && env.REENCRYPT_QUEUE_NAME
      ? { handOff: createHandOff(config, queueSender(() => clients.sqs(homeRegion), env.REENCRYPT_QUEUE_NAME), (message, details) => logger.warn(message, details)) }
      : {}),
    ...(config.flap.table ? { ledger: createFlapLedger(() => clients.dynamodb(homeRegion), config.flap.table, config.flap.windowMinutes * 60_000) } : {}),
  };
};
