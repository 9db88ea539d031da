/** Classification of SDK errors into the outcomes the guard handles differently. */

interface SdkError {
  name?: string;
  /** Node's network errors: ECONNREFUSED, EAI_AGAIN, ... (their `name` is just "Error"). */
  code?: string;
  Code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
  Region?: string;
}

const asSdkError = (error: unknown): SdkError => (typeof error === 'object' && error !== null ? (error as SdkError) : {});

export const errorName = (error: unknown): string => {
  const sdk = asSdkError(error);
  return sdk.name ?? sdk.Code ?? 'UnknownError';
};

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export const httpStatus = (error: unknown): number | undefined => asSdkError(error).$metadata?.httpStatusCode;

export const isAccessDenied = (error: unknown): boolean =>
  ['AccessDenied', 'AccessDeniedException', 'AllAccessDisabled'].includes(errorName(error)) || httpStatus(error) === 403;

export const isNoSuchBucket = (error: unknown): boolean => errorName(error) === 'NoSuchBucket';

/** Worth another try later (queue retry): throttling, server errors, timeouts, dropped connections. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * S3 answers 409 OperationAborted ("A conflicting conditional operation is currently in progress against
 * this resource. Try again.") to concurrent configuration writes on one bucket:
 * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList
 */
export const isOperationAborted = (error: unknown): boolean => errorName(error) === 'OperationAborted';

export const isTransient = (error: unknown): boolean => {
  const sdk = asSdkError(error);
  const status = httpStatus(error);
  return Boolean(sdk.$retryable) || isOperationAborted(error)
    || (status !== undefined && (status >= 500 || status === 429))
    || (sdk.code !== undefined && NETWORK_CODES.has(sdk.code))
    || /Throttl|SlowDown|TooManyRequests|RequestLimitExceeded|Timeout|ECONNRESET|EPIPE|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN|InternalError|ServiceUnavailable/i.test(errorName(error));
};

/** The bucket's region named by an S3 redirect (301 PermanentRedirect or 400 AuthorizationHeaderMalformed). */
export const redirectRegion = (error: unknown): string | undefined => {
  const sdk = asSdkError(error);
  const region = sdk.$response?.headers?.['x-amz-bucket-region'] ?? sdk.Region;
  return region && /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/.test(region) ? region : undefined;
};
