import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, type LogFormat } from '../../src/logger.ts';

/** A stream that keeps what is written, and says whether it is a terminal. */
function capture(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString('utf8'));
        done();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => chunks.join('') };
}

function logOnce(format: LogFormat, isTTY: boolean): string {
  const { stream, text } = capture(isTTY);
  const log = createLogger({ level: 'info', format, base: { svc: 'exchange' }, destination: stream });
  log.child({ reqId: 'req-7' }).info({ market: 'BTC-USDC' }, 'order accepted');
  return text();
}

describe('finding 5.3: logs readable on a terminal, JSON otherwise', () => {
  it('writes JSON lines when stdout is not a terminal', () => {
    const line = JSON.parse(logOnce('auto', false).trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, svc: 'exchange', reqId: 'req-7', msg: 'order accepted' });
  });

  it('pretty-prints on a terminal, the request id leading the message', () => {
    const text = logOnce('auto', true);
    expect(() => JSON.parse(text) as unknown).toThrow();
    // eslint-disable-next-line no-control-regex
    const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[req-7\] order accepted\n {4}market: "BTC-USDC"/,
    );
  });

  it('LOG_FORMAT overrides the guess either way', () => {
    expect(() => JSON.parse(logOnce('json', true)) as unknown).not.toThrow();
    expect(logOnce('pretty', false)).toMatch(/INFO: \[req-7\] order accepted/);
  });
});
