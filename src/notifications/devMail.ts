/**
 * The local SMTP catcher of `npm start` when SMTP_URL is unset (development only): an embedded
 * smtp-server on a loopback port that logs each message and keeps it under .data/mail (the last
 * MAX_KEPT), readable at GET /dev/mail. A newcomer sees every email the exchange sends with nothing
 * installed.
 */

import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import type { Logger } from 'pino';
import { SMTPServer } from 'smtp-server';

const MAX_KEPT = 200;
const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface CaughtMail {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly date: string;
  readonly text: string;
}

export interface MailCatcher {
  readonly url: string;
  /** Newest first. */
  list(): Promise<CaughtMail[]>;
  close(): Promise<void>;
}

export async function startMailCatcher(dir: string, log: Logger): Promise<MailCatcher> {
  await mkdir(dir, { recursive: true });
  let counter = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    size: MAX_MESSAGE_BYTES,
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const id = `${Date.now()}-${String(counter++).padStart(6, '0')}`;
        void keep(id, raw).then(
          () => {
            callback();
          },
          (error: unknown) => {
            callback(error as Error);
          },
        );
      });
    },
  });
  const keep = async (id: string, raw: Buffer) => {
    await writeFile(path.join(dir, `${id}.eml`), raw);
    const mail = await simpleParser(raw);
    log.info(
      { id, to: mail.to === undefined ? '' : JSON.stringify(mail.to), subject: mail.subject },
      'email caught (GET /dev/mail)',
    );
    const files = (await readdir(dir)).filter((f) => f.endsWith('.eml')).sort();
    for (const old of files.slice(0, Math.max(0, files.length - MAX_KEPT))) await unlink(path.join(dir, old));
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  log.info({ port, dir }, 'SMTP_URL is not set: emails go to the local catcher (GET /dev/mail)');
  return {
    url: `smtp://127.0.0.1:${port}`,
    async list() {
      const files = (await readdir(dir))
        .filter((f) => f.endsWith('.eml'))
        .sort()
        .reverse();
      return Promise.all(
        files.slice(0, 50).map(async (file) => {
          const mail = await simpleParser(await readFile(path.join(dir, file)));
          const address = (a: typeof mail.to) =>
            a === undefined ? '' : Array.isArray(a) ? a.map((x) => x.text).join(', ') : a.text;
          return {
            id: file.replace(/\.eml$/, ''),
            from: address(mail.from),
            to: address(mail.to),
            subject: mail.subject ?? '',
            date: mail.date?.toISOString() ?? '',
            text: mail.text ?? '',
          };
        }),
      );
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
