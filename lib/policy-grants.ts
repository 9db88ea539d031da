/** Who, besides the account itself, a bucket policy lets in: the writers a KMS mode may break. Pure. */

type Principal = string | { AWS?: string | string[]; Service?: string | string[]; Federated?: string | string[] };
interface Statement { Effect?: string; Principal?: Principal }

const asArray = (value: string | string[] | undefined): string[] => (value === undefined ? [] : [value].flat());

/**
 * AWS service principals and other accounts that an `Allow` statement names. ALB access logs, for one,
 * support only SSE-S3, and the `aws/s3` key cannot be used from another account.
 */
export const grantsOutsideAccount = (policy: string | null | undefined, accountId: string): string[] => {
  if (!policy) return [];
  let statements: Statement[];
  try {
    const parsed = JSON.parse(policy) as { Statement?: Statement | Statement[] };
    statements = [parsed.Statement ?? []].flat();
  } catch {
    return [];
  }
  const grantees = new Set<string>();
  for (const statement of statements) {
    if (statement.Effect !== 'Allow' || statement.Principal === undefined) continue;
    const principal = statement.Principal;
    if (typeof principal === 'string') {
      grantees.add(principal);
      continue;
    }
    for (const service of asArray(principal.Service)) grantees.add(service);
    for (const aws of asArray(principal.AWS)) {
      const account = /^\d{12}$/.test(aws) ? aws : /^arn:[a-z-]+:iam::(\d{12}):/.exec(aws)?.[1];
      if (account !== accountId) grantees.add(aws);
    }
  }
  return [...grantees];
};
