import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import type { Config } from '../config.ts';
import { Fanout } from '../events/fanout.ts';
import { JournalWriter } from '../persistence/journalWriter.ts';
import { journalObserver } from '../persistence/metrics.ts';
import { migrate } from '../persistence/migrate.ts';
import { EVERY_CONSUMER_HERE, type ConsumerGate } from '../persistence/consumerLocks.ts';
import type { Ownership } from '../persistence/owner.ts';
import { createDatabasePool } from '../persistence/pool.ts';

/** Stage 2 of the composition root (src/app.ts): the owned database, its pool and the journal writer. */
/** What the composition root needs of its hold on the database (the ownership, or a cluster role's lock). */
export interface DatabaseHold {
  lost(): Error | undefined;
  recordPort(port: number): Promise<void>;
  release(): Promise<void>;
}

export interface Storage {
  readonly ownership: DatabaseHold;
  readonly pool: DatabasePool;
  readonly writer: JournalWriter;
  /** The journal's last global seq after each flush (the projector's lag follows it). */
  readonly flushed: Fanout<number>;
  /** Where the durable consumers and the projector run (src/app/roles.ts, consumerLocks.ts). */
  readonly consumerGate: ConsumerGate;
}

/** Migrates the owned database, claims it (the fencing token every journal INSERT checks), opens the writer. */
export async function openStorage(
  config: Config & { readonly DATABASE_URL: string },
  log: Logger,
  ownership: Ownership,
  onOwnershipLost: ((error: Error) => void) | undefined,
): Promise<Storage> {
  const applied = await migrate(config.DATABASE_URL);
  log.info({ applied }, applied.length === 0 ? 'database schema up to date' : 'migrations applied');
  const token = await ownership.claim();
  log.info({ token, backendPid: ownership.backendPid }, 'database owned by this exchange');
  ownership.onLost((error) => {
    log.fatal({ err: error }, 'database ownership lost: journal writes refused from now on');
    onOwnershipLost?.(error);
  });
  const pool = await createDatabasePool(config.DATABASE_URL);
  const flushed = new Fanout<number>();
  const writer = await JournalWriter.open(pool, {
    fence: ownership,
    onCommitted: flushed.emit,
    observe: journalObserver,
  });
  return { ownership, pool, writer, flushed, consumerGate: EVERY_CONSUMER_HERE };
}

/**
 * Stage 2 of ROLE=gateway and ROLE=worker: the migrated database, its pool and a writer that writes
 * nothing (the process is a replica of the engines' journal, src/persistence/journalFollower.ts).
 * `hold` is the cluster lock (no ROLE=all beside us); `consumerGate` says which consumers run here.
 */
export async function openReplicaStorage(
  config: Config & { readonly DATABASE_URL: string },
  log: Logger,
  hold: DatabaseHold,
  consumerGate: ConsumerGate,
): Promise<Storage> {
  const applied = await migrate(config.DATABASE_URL);
  log.info({ applied }, applied.length === 0 ? 'database schema up to date' : 'migrations applied');
  const pool = await createDatabasePool(config.DATABASE_URL);
  const flushed = new Fanout<number>();
  const writer = await JournalWriter.open(pool, {
    readOnly: `a ${config.ROLE} writes nothing to the journal: this route is served by ROLE=all or an engine`,
  });
  return { ownership: hold, pool, writer, flushed, consumerGate };
}
