import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod/v4';
import { FEE_ACCOUNT } from '../actors/ledger/index.ts';
import {
  ChainError,
  type ChainClient,
  type RecordedTransaction,
  type SettlementLeg,
} from '../chain/client.ts';
import type { CustodyKeys } from '../chain/custody.ts';
import { tradeId } from '../events/ids.ts';
import type { ChainStore } from '../persistence/chainStore.ts';
import type { DurableConsumer, EventPage } from '../persistence/durableConsumers.ts';
import type { Delta, NewRound, RoundRow, SettlementStore } from '../persistence/settlementStore.ts';
import type { ChainToken } from './chainDeposits.ts';

/*
 * Settlement on chain (issue 16 §3, PROTOCOL v1.1 Chain): trades of markets whose assets have
 * tokens move between the users' custodial deposit addresses after commit.
 *
 * 1. Rounds (SettlementConsumer, a durable consumer of the committed event stream, cursor
 *    `chain-settlement`): the trades of each page of committed market records, at most
 *    SETTLEMENT_ROUND_MAX_TRADES per round (a record's trades stay in one round), are a round. Its
 *    deltas are the ledger's own movements: the trade and fee postings of those records in the
 *    assets with tokens, summed per asset and account. The round, its deltas and its trades commit
 *    with the cursor's move, so every trade is in exactly one round.
 * 2. Execution (ChainSettlement.run, the `execute-blockchain-settlement` job): rounds in order. The
 *    deltas of each token are netted into legs from accounts that gave to accounts that received
 *    (at most accounts − 1 legs per token); every leg of the round, of every token, goes in ONE
 *    Settlement.settle transaction (delivery versus payment: all or nothing). Legs of RWA tokens
 *    move by the contract's agent role (forcedTransfer), legs of plain ERC-20s by transferFrom (each
 *    deposit address approves the contract once, its gas topped up by the platform).
 * 3. Exactly once: the signed transaction is recorded on the round before its broadcast (the
 *    payout rail's pattern); a later run re-sends the same bytes, or signs anew only when its nonce
 *    went to another transaction. The contract itself refuses a round id it settled already.
 *    `settled` after CHAIN_CONFIRMATIONS; a refusal (estimation or on chain) retries with backoff,
 *    then `failed` with an alert (log, exchange_settlement_rounds_failed_total) and the trades listed
 *    for an operator (GET /admin/settlements?status=failed).
 */

export type { ListedSettlement, RoundStatus } from '../persistence/settlementStore.ts';

export const SETTLEMENT_CONSUMER = 'chain-settlement';
/** The chain_contracts row of the Settlement contract. */
const SETTLEMENT_CONTRACT = 'Settlement';

export interface SettledMarket {
  readonly baseAsset: string;
  readonly quoteAsset: string;
}

export interface SettlementConsumerOptions {
  readonly store: SettlementStore;
  readonly market: (marketId: string) => SettledMarket | undefined;
  readonly tokens: () => readonly ChainToken[];
  readonly maxTradesPerRound: number;
  /** A round committed (the executor may run now). */
  readonly onRounds?: (count: number) => void;
}

/** Forms settlement rounds from the committed records of markets with tokens. */
export class SettlementConsumer implements DurableConsumer {
  readonly name = SETTLEMENT_CONSUMER;
  #formed = 0;

  constructor(private readonly options: SettlementConsumerOptions) {}

  async apply(tx: DatabaseTransactionConnection, page: EventPage): Promise<void> {
    const tokens = new Set(this.options.tokens().map((t) => t.asset));
    let round: Accumulating | undefined;
    this.#formed = 0;
    const flush = async () => {
      if (round === undefined || round.trades.length === 0) return;
      await this.options.store.insertRound(tx, finish(round));
      this.#formed++;
      round = undefined;
    };
    for (const { globalSeq, batch, events } of page.records) {
      if (batch.marketId.startsWith('@')) continue;
      const market = this.options.market(batch.marketId);
      if (market === undefined) continue;
      if (!tokens.has(market.baseAsset) && !tokens.has(market.quoteAsset)) continue;
      const trades: NewRound['trades'][number][] = [];
      const moves: Delta[] = [];
      for (const event of events) {
        if (event.type === 'fill')
          trades.push({
            tradeId: tradeId(batch.marketId, event.seq, event.n),
            marketId: batch.marketId,
            ts: event.ts,
          });
        else if (event.type === 'balance.changed')
          for (const p of event.postings)
            if ((p.kind === 'trade' || p.kind === 'fee') && tokens.has(p.asset))
              moves.push({ asset: p.asset, account: p.account, amount: p.amount });
      }
      if (trades.length === 0) continue;
      if (round !== undefined && round.trades.length + trades.length > this.options.maxTradesPerRound)
        await flush();
      round ??= { first: globalSeq, last: globalSeq, trades: [], deltas: new Map() };
      round.last = globalSeq;
      round.trades.push(...trades);
      for (const m of moves) {
        const key = `${m.asset}\u0000${m.account}`;
        round.deltas.set(key, (round.deltas.get(key) ?? 0n) + m.amount);
      }
    }
    await flush();
  }

  committed(): void {
    if (this.#formed > 0) this.options.onRounds?.(this.#formed);
  }
}

interface Accumulating {
  first: number;
  last: number;
  trades: NewRound['trades'][number][];
  deltas: Map<string, bigint>;
}

function finish(round: Accumulating): NewRound {
  const deltas: Delta[] = [];
  for (const [key, amount] of round.deltas) {
    if (amount === 0n) continue;
    const [asset, account] = key.split('\u0000') as [string, string];
    deltas.push({ asset, account, amount });
  }
  return { firstGlobalSeq: round.first, lastGlobalSeq: round.last, deltas, trades: round.trades };
}

/**
 * The deltas of one token netted into legs: accounts that gave (negative) pay accounts that
 * received (positive), both in account order, greedily. The deltas sum to zero (the ledger's double
 * entry); at most accounts − 1 legs. Deterministic: a round re-signed moves the same legs.
 */
export function netLegs(deltas: readonly Delta[]): { from: string; to: string; amount: bigint }[] {
  const sorted = [...deltas].sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
  const givers = sorted.filter((d) => d.amount < 0n).map((d) => ({ account: d.account, left: -d.amount }));
  const takers = sorted.filter((d) => d.amount > 0n).map((d) => ({ account: d.account, left: d.amount }));
  const total = sorted.reduce((sum, d) => sum + d.amount, 0n);
  if (total !== 0n) throw new Error(`settlement deltas do not sum to zero (${total})`);
  const legs: { from: string; to: string; amount: bigint }[] = [];
  let g = 0;
  let t = 0;
  while (g < givers.length && t < takers.length) {
    const giver = givers[g]!;
    const taker = takers[t]!;
    const amount = giver.left < taker.left ? giver.left : taker.left;
    legs.push({ from: giver.account, to: taker.account, amount });
    giver.left -= amount;
    taker.left -= amount;
    if (giver.left === 0n) g++;
    if (taker.left === 0n) t++;
  }
  return legs;
}

export interface ChainSettlementOptions {
  readonly chain: () => Promise<ChainClient>;
  readonly store: SettlementStore;
  readonly custody: ChainStore;
  readonly keys: CustodyKeys;
  readonly tokens: () => readonly ChainToken[];
  /** Forms the rounds committed so far (the durable consumer's runOnce). */
  readonly formRounds: () => Promise<unknown>;
  /** Why the user may not hold this RWA now (compliance), or undefined: a receiver is allowlisted when undefined. */
  readonly refusal: (userId: string, asset: string) => string | undefined;
  readonly confirmations: number;
  readonly attempts: number;
  readonly backoffMs: number;
  /** Most rounds one run sends. */
  readonly maxRoundsPerRun: number;
  readonly log: Logger;
}

export interface SettlementRunReport {
  readonly sent: number;
  readonly settled: number;
  readonly failed: number;
}

/** Executes the settlement rounds on chain (the execute-blockchain-settlement job). */
export class ChainSettlement {
  #contract: Promise<string> | undefined;
  /** token:address pairs known to be ready (allowlisted receiver, approved giver, agent granted). */
  readonly #ready = new Set<string>();
  #tail: Promise<unknown> = Promise.resolve();
  #queued: Promise<SettlementRunReport> | undefined;

  constructor(private readonly options: ChainSettlementOptions) {}

  /** One run that starts after this call; runs never overlap (calls made while one waits share it). */
  run(): Promise<SettlementRunReport> {
    if (this.#queued !== undefined) return this.#queued;
    const start = () => {
      this.#queued = undefined;
      return this.#run();
    };
    const run = this.#tail.then(start, start);
    this.#queued = run;
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** The Settlement contract's address, deployed on first use (its hash recorded before broadcast). */
  contractAddress(): Promise<string> {
    this.#contract ??= this.#deployContract();
    this.#contract.catch(() => {
      this.#contract = undefined;
    });
    return this.#contract;
  }

  async #deployContract(): Promise<string> {
    const { store } = this.options;
    const known = await store.contract(SETTLEMENT_CONTRACT);
    if (known?.address !== undefined) return known.address;
    const chain = await this.options.chain();
    const deployed = await chain.deploySettlement({
      ...(known === undefined ? {} : { knownTxHash: known.txHash }),
      onSubmitted: (txHash) => store.recordContractTx(SETTLEMENT_CONTRACT, txHash),
    });
    await store.recordContractAddress(SETTLEMENT_CONTRACT, deployed.txHash, deployed.contractAddress);
    return deployed.contractAddress;
  }

  async #run(): Promise<SettlementRunReport> {
    const { store, maxRoundsPerRun } = this.options;
    await this.options.formRounds();
    const open = await store.openRounds(maxRoundsPerRun * 4);
    if (open.length === 0) return { sent: 0, settled: 0, failed: 0 };
    const chain = await this.options.chain();
    let settled = 0;
    let failed = 0;
    let sent = 0;
    // Submitted rounds first: a round is sent only after the one before it was mined (its legs may
    // spend what the earlier one delivered), so an unmined one stops the sending below.
    let unmined = false;
    for (const round of open) {
      if (round.status !== 'submitted' || round.tx === undefined) continue;
      const outcome = await this.#resolve(chain, round, round.tx);
      if (outcome === 'settled') settled++;
      else if (outcome === 'failed') failed++;
      else if (outcome === 'unmined') unmined = true;
    }
    if (unmined) return { sent, settled, failed };
    const pending = (await store.openRounds(maxRoundsPerRun * 4)).filter((r) => r.status === 'pending');
    for (const round of pending) {
      if (sent >= maxRoundsPerRun) break;
      if (round.nextAttemptAt > Date.now()) break; // in backoff: later rounds wait for it
      const outcome = await this.#send(chain, round);
      if (outcome === 'settled') settled++;
      else if (outcome === 'failed') failed++;
      else if (outcome === 'sent') sent++;
      else break;
    }
    return { sent, settled, failed };
  }

  async #resolve(
    chain: ChainClient,
    round: RoundRow,
    tx: RecordedTransaction,
  ): Promise<'settled' | 'failed' | 'retry' | 'unmined' | 'waiting'> {
    const outcome = await chain.recordedOutcome(tx);
    if (outcome.state === 'pending') return 'unmined';
    if (outcome.state === 'dropped') {
      this.options.log.warn({ roundId: round.id, txHash: tx.txHash }, 'settlement dropped; signing anew');
      await this.options.store.reopen(round.id);
      return 'retry';
    }
    if (!outcome.success) return this.#refused(round, `settlement reverted on chain in ${tx.txHash}`);
    const depth = (await chain.blockNumber()) - outcome.blockNumber + 1;
    if (depth < this.options.confirmations) return 'waiting';
    await this.options.store.settled(round.id, { txHash: tx.txHash, gasUsed: outcome.gasUsed });
    settledTrades.inc(round.trades);
    gasUsed.inc(Number(outcome.gasUsed));
    return 'settled';
  }

  async #send(chain: ChainClient, round: RoundRow): Promise<'sent' | 'settled' | 'failed' | 'held'> {
    const { store, log } = this.options;
    const legs = await this.#legs(round.id);
    if (legs.length === 0) {
      // Nothing moves on chain (the trades netted to zero, or only fiat legs): settled as it is.
      await store.settled(round.id, { legs: 0 });
      settledTrades.inc(round.trades);
      return 'settled';
    }
    const contract = await this.contractAddress();
    try {
      await this.#prepare(chain, contract, legs);
      await chain.sendSettlement(contract, BigInt(round.id), legs, (tx) =>
        store.recordRoundTx(round.id, tx, round.tx?.txHash, legs.length),
      );
      return 'sent';
    } catch (error) {
      if (!(error instanceof ChainError) || error.code !== 'reverted') throw error;
      // Refused at estimation, nothing signed. A round this contract settled already (a record lost)
      // is settled; otherwise the refusal counts as an attempt.
      if (await chain.isRoundSettled(contract, BigInt(round.id))) {
        log.error({ roundId: round.id }, 'settlement round settled on chain without its record');
        await store.settled(round.id, { legs: legs.length });
        return 'settled';
      }
      const outcome = await this.#refused(round, error.message);
      return outcome === 'failed' ? 'failed' : 'held';
    }
  }

  async #refused(round: RoundRow, reason: string): Promise<'failed' | 'retry'> {
    const { store, attempts, backoffMs, log } = this.options;
    const final = round.attempts + 1 >= attempts;
    await store.refused(round.id, reason, final, backoffMs * 2 ** round.attempts);
    if (!final) {
      log.warn({ roundId: round.id, attempt: round.attempts + 1, reason }, 'settlement refused; retrying');
      return 'retry';
    }
    failedRounds.inc();
    failedTrades.inc(round.trades);
    log.error(
      { roundId: round.id, trades: round.trades, reason, alert: 'settlement_failed' },
      'settlement round failed: its trades are listed for an operator',
    );
    return 'failed';
  }

  /** The round's legs, every token's, in asset order (accounts without an address get one). */
  async #legs(roundId: number): Promise<SettlementLeg[]> {
    const { store, tokens } = this.options;
    const deltas = await store.deltas(roundId);
    const byAsset = new Map<string, Delta[]>();
    for (const d of deltas) byAsset.set(d.asset, [...(byAsset.get(d.asset) ?? []), d]);
    const legs: SettlementLeg[] = [];
    for (const [asset, list] of [...byAsset].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const token = tokens().find((t) => t.asset === asset);
      if (token === undefined) throw new Error(`settlement of ${asset}: no token`);
      for (const leg of netLegs(list)) {
        legs.push({
          token: token.address,
          from: await this.#address(leg.from),
          to: await this.#address(leg.to),
          amount: leg.amount,
          forced: token.kind === 'rwa',
        });
      }
    }
    return legs;
  }

  async #address(account: string): Promise<string> {
    const { custody, keys } = this.options;
    const known = await custody.custody(account);
    if (known !== undefined) return known.address;
    return (await custody.allocateCustody(account, (index) => keys.address(index))).address;
  }

  /**
   * What the legs need before the transaction can pass: the contract an agent of every RWA token,
   * every RWA receiver allowlisted (the fee account, and users whose compliance allows it), every
   * ERC-20 giver's allowance for the contract. Each is done once per token and address.
   */
  async #prepare(chain: ChainClient, contract: string, legs: readonly SettlementLeg[]): Promise<void> {
    const tokens = this.options.tokens();
    const assetOf = (address: string) =>
      tokens.find((t) => t.address.toLowerCase() === address.toLowerCase());
    const owners = new Map(
      (await this.options.custody.custodyAddresses()).map((r) => [r.address.toLowerCase(), r]),
    );
    for (const leg of legs) {
      if (leg.forced) {
        const agentKey = `agent:${leg.token}`;
        if (!this.#ready.has(agentKey)) {
          await chain.grantAgent(leg.token, contract);
          this.#ready.add(agentKey);
        }
        const receiverKey = `allow:${leg.token}:${leg.to}`;
        if (!this.#ready.has(receiverKey)) {
          const status = await chain.holderStatus(leg.token, leg.to);
          if (!status.allowlisted) {
            const owner = owners.get(leg.to.toLowerCase());
            const asset = assetOf(leg.token)?.asset;
            const may =
              owner !== undefined &&
              asset !== undefined &&
              (owner.userId === FEE_ACCOUNT || this.options.refusal(owner.userId, asset) === undefined);
            // Not allowed: the settlement is refused at estimation (NotAllowlisted) and retried.
            if (!may) continue;
            await chain.setAllowlisted(leg.token, leg.to, true);
          }
          this.#ready.add(receiverKey);
        }
      } else {
        const giverKey = `approve:${leg.token}:${leg.from}`;
        if (!this.#ready.has(giverKey)) {
          const owner = owners.get(leg.from.toLowerCase());
          if (owner === undefined) throw new Error(`no deposit address ${leg.from}`);
          await chain.ensureAllowance(
            leg.token,
            this.options.keys.privateKey(owner.index),
            contract,
            leg.amount,
          );
          this.#ready.add(giverKey);
        }
      }
    }
  }
}

const settledTrades = new Counter({
  name: 'exchange_settlement_trades_settled_total',
  help: 'Trades settled on chain (their round mined with CHAIN_CONFIRMATIONS, or nothing to move)',
});
const gasUsed = new Counter({
  name: 'exchange_settlement_gas_used_total',
  help: 'Gas used by settlement transactions',
});
const failedRounds = new Counter({
  name: 'exchange_settlement_rounds_failed_total',
  help: 'Settlement rounds failed after every attempt (an alert: their trades wait for an operator)',
});
const failedTrades = new Counter({
  name: 'exchange_settlement_trades_failed_total',
  help: 'Trades of failed settlement rounds (listed at GET /admin/settlements?status=failed)',
});

/** The execute-blockchain-settlement job's payload: nothing (each run takes the open rounds in order). */
export const ExecuteSettlementPayload = z.object({});
