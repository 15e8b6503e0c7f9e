import { z } from 'zod/v4';

/*
 * The environment of custody and chain funding (issue 16), as a zod shape src/config.ts spreads
 * into its schema. The mnemonic's default is anvil's public one: fit for local chains only (a
 * production deployment sets its own, kept as a secret).
 */

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nonNegativeInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

export const CHAIN_ENV = {
  /** The HD seed of the users' custodial deposit addresses (BIP-39 phrase). */
  CHAIN_CUSTODY_MNEMONIC: z
    .string()
    .refine((text) => text.trim().split(/\s+/).length >= 12, 'a BIP-39 phrase of at least 12 words')
    .default('test test test test test test test test test test test junk'),
  /** Blocks a deposit's transaction needs (its own included) before it is credited. */
  CHAIN_CONFIRMATIONS: positiveInt(2),
  /** How often sync-blockchain runs, ms; 0 turns it off. It runs only with CHAIN_RPC_URL set. */
  CHAIN_SYNC_INTERVAL_MS: nonNegativeInt(2_000),
  /** Most blocks one eth_getLogs request covers (a sync run reads in pages of this size). */
  CHAIN_SYNC_PAGE_BLOCKS: positiveInt(2_000),
  /** Most pages one sync run reads before it yields to the next run. */
  CHAIN_SYNC_MAX_PAGES: positiveInt(10),
  /** How often the reconcile-chain job compares balanceOf with the ledger, ms (with CHAIN_RPC_URL). */
  CHAIN_RECONCILE_INTERVAL_MS: positiveInt(60_000),
  /**
   * Development: at start, deploy the test USDC (contracts/TestUsdc.sol, 6 decimals) and define the
   * asset USDC bound to it, when no asset USDC exists yet. Turns sync-blockchain on also when the
   * exchange runs its own anvil (no CHAIN_RPC_URL).
   */
  CHAIN_TEST_USDC: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** First block the cursor starts from on a fresh database. */
  CHAIN_SYNC_START_BLOCK: nonNegativeInt(0),
  /**
   * How often execute-blockchain-settlement runs, ms (forms rounds of the trades committed since,
   * sends them, confirms them); 0 turns it off. Runs where sync-blockchain runs.
   */
  SETTLEMENT_INTERVAL_MS: nonNegativeInt(250),
  /** Most trades in one settlement round (one transaction). */
  SETTLEMENT_ROUND_MAX_TRADES: positiveInt(500),
  /** Refusals (at estimation or on chain) before a round is failed and listed for an operator. */
  SETTLEMENT_ATTEMPTS: positiveInt(5),
  /** First delay after a refused round; doubles each attempt. */
  SETTLEMENT_BACKOFF_MS: positiveInt(1_000),
  /** Attempts of a mint-token job (each one checks the recorded mint; it waits for confirmations). */
  MINT_ATTEMPTS: positiveInt(12),
  /** First delay between mint-token attempts; doubles each attempt. */
  MINT_BACKOFF_MS: positiveInt(500),
};

export type ChainConfig = Readonly<z.infer<z.ZodObject<typeof CHAIN_ENV>>>;
