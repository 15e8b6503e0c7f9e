import { z } from 'zod/v4';
import type { CommandResult } from '../../actors/market/types.ts';
import type { FundingCommand } from '../../actors/funding/index.ts';
import type { FundingOutcome } from '../../actors/supervisor.ts';

/*
 * The `@ledger` commands between a gateway and the engine that owns `@ledger` (docs/scale-out.md,
 * "Money across engines"): an admin credit or a funding command (a deposit credited or failed, a
 * withdrawal's change), requested on `<cluster>.cmd.@ledger` with an id of the gateway's, answered
 * after the record's commit, the id journaled with the entry (asked again: answered once). Amounts
 * are bigints: decimal strings on the wire.
 */

export type LedgerOp =
  | { readonly kind: 'credit'; readonly userId: string; readonly asset: string; readonly amount: bigint }
  | { readonly kind: 'fund'; readonly command: FundingCommand };

export interface LedgerRequest {
  readonly id: string;
  readonly ts: number;
  readonly op: LedgerOp;
}

const Amount = z
  .string()
  .regex(/^-?\d{1,40}$/)
  .transform((text) => BigInt(text));

const LedgerRequestSchema = z.object({
  id: z.string().min(1).max(128),
  ts: z.number().int().nonnegative(),
  op: z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('credit'),
      userId: z.string().min(1).max(128),
      asset: z.string().min(1).max(64),
      amount: Amount,
    }),
    z.object({
      kind: z.literal('fund'),
      // The gateway built it (src/funding); the funding register checks it again.
      command: z.looseObject({
        kind: z.enum(['deposit_credit', 'deposit_fail', 'withdrawal']),
        amount: Amount,
      }),
    }),
  ]),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeLedgerRequest(request: LedgerRequest): Uint8Array {
  return encoder.encode(
    JSON.stringify(request, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)),
  );
}

export function decodeLedgerRequest(data: Uint8Array): LedgerRequest {
  return LedgerRequestSchema.parse(JSON.parse(decoder.decode(data))) as unknown as LedgerRequest;
}

/** A funding outcome as the command reply carries it (its journal entry's result). */
export function fundingResult(outcome: FundingOutcome): CommandResult {
  // A funding refusal's code (`duplicate`, …) is not a market's: the reply carries it as text.
  return outcome.ok ? { ok: true, seq: outcome.seq, events: [] } : (outcome as unknown as CommandResult);
}

/** Back from the reply: a refusal keeps its code (`duplicate`, `insufficient_funds`, …). */
export function fundingOutcome(result: CommandResult): FundingOutcome {
  return result.ok ? { ok: true, seq: result.seq } : (result as unknown as FundingOutcome);
}
