/** Funding in the `@ledger` pseudo-market: its journal commands and the register of what they did. */
export * from './commands.ts';
export * from './register.ts';
