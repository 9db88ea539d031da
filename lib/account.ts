/** The guard's own account: from the Lambda context (free), else STS once per container (invoke local). */
import type { STSClient } from '@aws-sdk/client-sts';
import { stsSdk } from './sdk';

export interface InvocationContext {
  invokedFunctionArn?: string;
}

export type AccountResolver = (context?: InvocationContext) => Promise<string>;

export const createAccountResolver = (sts: () => STSClient): AccountResolver => {
  let fromSts: Promise<string> | undefined;
  return (context) => {
    const fromArn = context?.invokedFunctionArn?.split(':')[4];
    if (fromArn && /^\d{12}$/.test(fromArn)) return Promise.resolve(fromArn);
    fromSts ??= sts().send(new (stsSdk().GetCallerIdentityCommand)({})).then(({ Account }) => {
      if (!Account) throw new Error('STS GetCallerIdentity returned no account');
      return Account;
    });
    fromSts.catch(() => { fromSts = undefined; });
    return fromSts;
  };
};
