import { createHash } from 'node:crypto';
import { z } from 'zod/v4';
import { call, parseAnswer, sameHex } from './http.ts';

/*
 * Ozow (PROTOCOL v1.1, Funding): the payment redirect with its HashCheck, the notification's Hash,
 * and GetTransactionByReference to confirm it. Hashes are lower-case hex SHA-512 of the lower-cased
 * concatenation of the fields, in their documented order, then the private key.
 */

const sha512 = (text: string) => createHash('sha512').update(text.toLowerCase(), 'utf8').digest('hex');

export const OZOW_REQUEST_ORDER = [
  'SiteCode',
  'CountryCode',
  'CurrencyCode',
  'Amount',
  'TransactionReference',
  'BankReference',
  'Optional1',
  'Optional2',
  'Optional3',
  'Optional4',
  'Optional5',
  'Customer',
  'CancelUrl',
  'ErrorUrl',
  'SuccessUrl',
  'NotifyUrl',
  'IsTest',
] as const;

export const OZOW_NOTIFICATION_ORDER = [
  'SiteCode',
  'TransactionId',
  'TransactionReference',
  'Amount',
  'Status',
  'Optional1',
  'Optional2',
  'Optional3',
  'Optional4',
  'Optional5',
  'CurrencyCode',
  'IsTest',
  'StatusMessage',
] as const;

export type OzowRequest = Partial<Record<(typeof OZOW_REQUEST_ORDER)[number], string>>;

export function ozowHash(values: readonly string[], privateKey: string): string {
  return sha512(values.join('') + privateKey);
}

/** The redirect to Ozow's payment page: every request field and its HashCheck, as a query. */
export function ozowRedirectUrl(baseUrl: string, request: OzowRequest, privateKey: string): string {
  const values = OZOW_REQUEST_ORDER.map((k) => request[k] ?? '');
  const query = new URLSearchParams();
  for (const key of OZOW_REQUEST_ORDER) query.set(key, request[key] ?? '');
  query.set('HashCheck', ozowHash(values, privateKey));
  return `${baseUrl}/?${query.toString()}`;
}

export const OzowNotification = z.object({
  SiteCode: z.string().max(64),
  TransactionId: z.string().max(64),
  TransactionReference: z.string().min(1).max(100),
  Amount: z.string().max(32),
  Status: z.string().max(32),
  Optional1: z.string().max(256).optional(),
  Optional2: z.string().max(256).optional(),
  Optional3: z.string().max(256).optional(),
  Optional4: z.string().max(256).optional(),
  Optional5: z.string().max(256).optional(),
  CurrencyCode: z.string().max(8),
  IsTest: z.string().max(8),
  StatusMessage: z.string().max(512).optional(),
  Hash: z.string().max(256),
});
export type OzowNotification = z.infer<typeof OzowNotification>;

export function ozowNotificationValid(n: OzowNotification, privateKey: string): boolean {
  if (!/^[0-9a-fA-F]{128}$/.test(n.Hash)) return false;
  const values = OZOW_NOTIFICATION_ORDER.map((k) => n[k] ?? '');
  return sameHex(ozowHash(values, privateKey), n.Hash);
}

const Transaction = z.object({
  transactionId: z.string(),
  transactionReference: z.string(),
  currencyCode: z.string(),
  amount: z.union([z.number(), z.string()]),
  status: z.string(),
  statusMessage: z.string().nullish(),
});

export interface OzowTransaction {
  readonly transactionId: string;
  readonly status: string;
  /** As Ozow writes it (a decimal); the caller parses it with the asset's decimals. */
  readonly amount: string;
  readonly currencyCode: string;
}

/** GET {api}/GetTransactionByReference: the transactions Ozow holds for the reference (header ApiKey). */
export async function ozowTransactions(
  options: { apiUrl: string; apiKey: string; siteCode: string; timeoutMs: number },
  reference: string,
): Promise<OzowTransaction[]> {
  const query = new URLSearchParams({ siteCode: options.siteCode, transactionReference: reference });
  const response = await call(
    `${options.apiUrl}/GetTransactionByReference?${query.toString()}`,
    { method: 'GET', headers: { ApiKey: options.apiKey, Accept: 'application/json' } },
    options.timeoutMs,
  );
  if (response.status === 404) return [];
  return parseAnswer(response, z.array(Transaction).max(100), 'ozow GetTransactionByReference').map((t) => ({
    transactionId: t.transactionId,
    status: t.status,
    amount: typeof t.amount === 'number' ? t.amount.toFixed(2) : t.amount,
    currencyCode: t.currencyCode,
  }));
}
