/**
 * A proxy in front of the local emulator that adds network round trips, for the benchmarks: the emulator
 * answers over loopback in microseconds and closes every connection (HTTP/1.0 style), so without it
 * parallel reads, connection reuse and sweep concurrency have nothing to save. Each request is answered
 * one round trip late; the first request on a new connection two round trips later still (TCP and
 * TLS 1.3 handshakes). Connections to the client are kept open, as S3 keeps them.
 */
import { Agent, createServer, type IncomingHttpHeaders, request as httpRequest } from 'node:http';

/** The round trip the benchmarks simulate: a same-region call to S3 takes about this long. */
export const SIMULATED_RTT_MS = 10;

const hopByHopRemoved = (headers: IncomingHttpHeaders): IncomingHttpHeaders =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'].includes(name.toLowerCase())));

export interface DelayProxy {
  endpoint: string;
  close(): Promise<void>;
}

export const startDelayProxy = async (target: string, rttMs: number): Promise<DelayProxy> => {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const seen = new WeakSet<object>();
  const server = createServer((req, res) => {
    const isNew = !seen.has(req.socket);
    seen.add(req.socket);
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => setTimeout(() => {
      const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: hopByHopRemoved(req.headers), agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, hopByHopRemoved(answer.headers));
        answer.pipe(res);
      });
      forward.on('error', (error) => { res.writeHead(502); res.end(String(error)); });
      forward.end(Buffer.concat(body));
    }, rttMs * (isNew ? 3 : 1)));
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolveClose) => {
      agent.destroy();
      server.closeAllConnections();
      server.close(() => resolveClose());
    }),
  };
};
