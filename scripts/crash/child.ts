import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { AckedEvent, AckLine, ChildLine, ReadyLine, SnapshotLine } from './exchange.ts';

/** One life of scripts/crash-child.ts: started, watched line by line, killed with SIGKILL. */

const childScript = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'crash-child.ts');

const ReadySchema = z.object({
  type: z.literal('ready'),
  port: z.number().int(),
  recoveredRecords: z.number().int(),
  snapshotGlobalSeq: z.number().int(),
  markets: z.array(
    z.object({ id: z.string(), symbol: z.string(), qtyDecimals: z.number().int(), lotSize: z.string() }),
  ),
});
const SnapshotSchema = z.object({
  type: z.literal('snapshot'),
  phase: z.enum(['start', 'done']),
  globalSeq: z.number().int().optional(),
});
const AckSchema = z.object({
  type: z.literal('ack'),
  market: z.string(),
  seq: z.number().int(),
  orderId: z.number().int().nullable(),
  kind: z.string(),
  // The child's own book events, compared field by field with the journal's.
  events: z.array(z.object({ type: z.string() }).passthrough()),
});
const LineSchema = z.discriminatedUnion('type', [ReadySchema, SnapshotSchema, AckSchema]);

export interface Life {
  /** Resolves once the child's gateway listens; rejects if it ends before. */
  readonly ready: Promise<ReadyLine>;
  /** Starts the load (the child waits for it after `ready`). */
  go(): void;
  /** Makes the child kill itself (SIGKILL) in its next snapshot, or right after it commits. */
  arm(order: 'kill-in-snapshot' | 'kill-after-snapshot'): void;
  /**
   * SIGKILL (after waiting up to `selfMs` for the child to kill itself, when armed); resolves with
   * every acknowledgement the child printed in full, and whether it had killed itself.
   */
  kill(selfMs?: number): Promise<{ acks: AckLine[]; snapshots: SnapshotLine[]; self: boolean }>;
}

export function startLife(env: Readonly<Record<string, string>>, bootTimeoutMs = 60_000): Life {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let pending = '';
  let stderr = '';
  const acks: AckLine[] = [];
  const snapshots: SnapshotLine[] = [];
  let killed = false;
  let onReady!: (line: ReadyLine) => void;
  let onFail!: (error: Error) => void;
  const ready = new Promise<ReadyLine>((resolve, reject) => {
    onReady = resolve;
    onFail = reject;
  });
  ready.catch(() => undefined);
  const bootTimer = setTimeout(() => {
    onFail(new Error(`the crash child was not ready within ${bootTimeoutMs} ms:\n${stderr}`));
    child.kill('SIGKILL');
  }, bootTimeoutMs);

  const handle = (line: ChildLine) => {
    if (line.type === 'ack') acks.push(line);
    else if (line.type === 'ready') {
      clearTimeout(bootTimer);
      onReady(line);
    } else snapshots.push(line);
  };
  child.stdin.on('error', () => undefined); // the child died: its exit reports it
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    // Only complete lines: a line cut by the kill was never fully written.
    pending = lines.pop()!;
    for (const text of lines) {
      const line = LineSchema.parse(JSON.parse(text));
      handle(
        line.type === 'ack' ? { ...line, events: line.events as unknown as readonly AckedEvent[] } : line,
      );
    }
  });
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const closed = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    // 'close': the process has exited and its stdout was read to the end.
    child.once('close', (code, signal) => {
      clearTimeout(bootTimer);
      if (killed && signal === 'SIGKILL') resolve();
      else {
        const error = new Error(
          `the crash child ended on its own (code ${code}, signal ${signal}):\n${stderr}`,
        );
        onFail(error);
        reject(error);
      }
    });
  });
  closed.catch(() => undefined);

  return {
    ready,
    go() {
      child.stdin.write('go\n');
    },
    arm(order) {
      child.stdin.write(`${order}\n`);
    },
    async kill(selfMs = 0) {
      killed = true;
      let self = true;
      const timer = setTimeout(() => {
        self = false;
        child.kill('SIGKILL');
      }, selfMs);
      await closed.finally(() => {
        clearTimeout(timer);
      });
      return { acks, snapshots, self };
    },
  };
}
