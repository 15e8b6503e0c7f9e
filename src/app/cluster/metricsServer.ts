import { createServer, type Server } from 'node:http';
import { metricsContentType, renderMetrics } from '../../transport/http/metrics.ts';

/**
 * The only HTTP of a process without the API (an engine): GET /metrics on HOST:PORT (lease
 * renewals, takeovers, redeliveries, journal).
 */
export function serveMetrics(host: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    renderMetrics().then(
      (text) => response.writeHead(200, { 'content-type': metricsContentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve(server);
    });
  });
}
