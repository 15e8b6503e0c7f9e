/*
 * What the supervisor lists of a market to seed the visualizer's feed; the `actors` channel's
 * topic and messages are part of the protocol (src/protocol/actors.ts).
 */

export * from '../protocol/actors.ts';

/** What the supervisor knows of a market (Supervisor.list()), to seed markets not yet heard from. */
export interface ListedActor {
  readonly id: string;
  readonly symbol: string;
  readonly state: string;
  readonly status: 'running' | 'halted';
  readonly mailboxDepth: number;
  readonly processed: number;
}
