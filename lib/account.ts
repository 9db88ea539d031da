/**
 * The guard's own account and partition: from the Lambda context's function ARN (free), else STS once per
 * container (invoke local). The partition (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-eusc`, ...) is
 * taken from the ARN rather than guessed from a region name, so bucket ARNs in policies are right in
 * every partition.
 */
import type { STSClient } from '@aws-sdk/client-sts';
import { stsSdk } from './sdk';

export interface InvocationContext {
  invokedFunctionArn?: string;
}

export interface Identity {
  accountId: string;
  partition: string;
}

export type IdentityResolver = (context?: InvocationContext) => Promise<Identity>;

const fromArn = (arn: string | undefined): Identity | undefined => {
  const [prefix, partition, , , accountId] = arn?.split(':') ?? [];
  return prefix === 'arn' && partition && /^aws[a-z-]*$/.test(partition) && accountId && /^\d{12}$/.test(accountId) ? { accountId, partition } : undefined;
};

export const createIdentityResolver = (sts: () => STSClient): IdentityResolver => {
  let fromSts: Promise<Identity> | undefined;
  return (context) => {
    const known = fromArn(context?.invokedFunctionArn);
    if (known) return Promise.resolve(known);
    fromSts ??= sts().send(new (stsSdk().GetCallerIdentityCommand)({})).then(({ Account, Arn }) => {
      if (!Account) throw new Error('STS GetCallerIdentity returned no account');
      return { accountId: Account, partition: fromArn(Arn)?.partition ?? 'aws' };
    });
    fromSts.catch(() => { fromSts = undefined; });
    return fromSts;
  };
};
