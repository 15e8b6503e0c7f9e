/**
 * The benchmarks' SMTP server, run in a worker thread (as a real relay runs elsewhere, so its
 * parsing does not share the exchange's thread): smtp-server, each message parsed with mailparser,
 * its `X-Notification-Id` posted to the parent with the time it was accepted, as epoch ms
 * (`performance.timeOrigin + performance.now()`, comparable across threads).
 */
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

const port = parentPort;
if (port === null) throw new Error('smtpReceiver.ts runs as a worker thread');
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, _session, callback) {
    simpleParser(stream).then(
      (mail) => {
        const id = mail.headers.get('x-notification-id');
        if (typeof id === 'string') port.postMessage({ id, at: performance.timeOrigin + performance.now() });
        callback();
      },
      (error: unknown) => {
        callback(error as Error);
      },
    );
  },
});
server.listen(0, '127.0.0.1', () => {
  port.postMessage({ port: (server.server.address() as AddressInfo).port });
});
port.on('message', (message: unknown) => {
  if (message === 'close') server.close(() => process.exit(0));
});
