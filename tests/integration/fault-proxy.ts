/**
 * A proxy between the guard and the emulator that sees every request on the wire and can step in:
 * answer in the emulator's stead (a 409 OperationAborted, a stale read), or act just before a request
 * is forwarded or just after its answer (another writer between the guard's read and its write).
 */
import { createServer, type IncomingHttpHeaders, request as httpRequest } from 'node:http';

/** One S3 request as the proxy sees it: `GET encryption my-bucket` and its place among its kind. */
export interface WireCall {
  method: string;
  bucket: string;
  /** The bucket subresource (`encryption`, `policy`, `tagging`, `publicAccessBlock`), or '' for other calls (KMS, DynamoDB, ...). */
  subresource: string;
  /** 1 for the first request with this method, subresource and bucket. */
  n: number;
  /** The request as sent: who signed it, and for whom (the organisation tests read these). */
  headers: IncomingHttpHeaders;
  body: string;
}

export interface WireAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export interface FaultHooks {
  /** Before forwarding: an answer here is given instead of the emulator's. */
  before?: (call: WireCall) => Promise<WireAnswer | undefined> | WireAnswer | undefined;
  /** After the emulator answered: an answer here replaces its answer. */
  after?: (call: WireCall, answer: WireAnswer) => Promise<WireAnswer | undefined> | WireAnswer | undefined;
}

export interface FaultProxy {
  endpoint: string;
  /** Every S3 bucket call, in the order the requests arrived: `PUT encryption b`. */
  log: string[];
  /** The most S3 configuration writes (PUT/DELETE) in flight on one bucket at once. */
  maxConcurrentWrites: number;
  hooks: FaultHooks;
  close(): Promise<void>;
}

const SUBRESOURCES = ['encryption', 'policy', 'tagging', 'publicAccessBlock', 'website', 'versioning'];

const hopByHopRemoved = (headers: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(Object.entries(headers)
    .filter(([name, value]) => typeof value === 'string' && !['connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(name.toLowerCase())) as [string, string][]);

export const s3ErrorAnswer = (status: number, code: string, message: string): WireAnswer => ({
  status, headers: { 'content-type': 'application/xml' },
  body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>PROXY</RequestId></Error>`,
});

export const startFaultProxy = async (target: string, hooks: FaultHooks = {}): Promise<FaultProxy> => {
  const upstream = new URL(target);
  const counts = new Map<string, number>();
  const writesInFlight = new Map<string, number>();
  const proxy: FaultProxy = { endpoint: '', log: [], maxConcurrentWrites: 0, hooks, close: async () => undefined };

  const forward = (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<WireAnswer & { headers: Record<string, string> }> =>
    new Promise((resolve, reject) => {
      const outgoing = httpRequest({ host: upstream.hostname, port: upstream.port, method, path, headers: { ...hopByHopRemoved(headers), 'content-length': String(body.length) } }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 502, body: Buffer.concat(chunks).toString('utf8'), headers: hopByHopRemoved(answer.headers) }));
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://proxy');
        const bucket = decodeURIComponent(url.pathname.split('/')[1] ?? '');
        const subresource = SUBRESOURCES.find((name) => url.searchParams.has(name)) ?? '';
        const method = req.method ?? 'GET';
        const kind = `${method} ${subresource} ${bucket}`;
        const n = (counts.get(kind) ?? 0) + 1;
        counts.set(kind, n);
        const call: WireCall = { method, bucket, subresource, n, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        const isWrite = subresource !== '' && (method === 'PUT' || method === 'DELETE');
        if (subresource) proxy.log.push(kind);
        if (isWrite) {
          writesInFlight.set(bucket, (writesInFlight.get(bucket) ?? 0) + 1);
          proxy.maxConcurrentWrites = Math.max(proxy.maxConcurrentWrites, writesInFlight.get(bucket)!);
        }
        try {
          let answer: WireAnswer | undefined = await proxy.hooks.before?.(call);
          if (!answer) {
            const upstreamAnswer = await forward(method, req.url ?? '/', req.headers, Buffer.concat(chunks));
            answer = (await proxy.hooks.after?.(call, upstreamAnswer)) ?? upstreamAnswer;
          }
          res.writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) });
          res.end(answer.body);
        } catch (error) {
          res.writeHead(502);
          res.end(String(error));
        } finally {
          if (isWrite) writesInFlight.set(bucket, writesInFlight.get(bucket)! - 1);
        }
      })();
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  proxy.endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  proxy.close = () => new Promise<void>((resolveClose) => {
    server.closeAllConnections();
    server.close(() => resolveClose());
  });
  return proxy;
};
