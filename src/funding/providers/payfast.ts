import { createHash } from 'node:crypto';
import { call, ProviderUnavailable, sameHex } from './http.ts';

/*
 * PayFast (PROTOCOL v1.1, Funding): the signed form of a payment, and the ITN checks — the MD5
 * signature over the posted fields in posted order (PHP urlencode) plus the passphrase, the source
 * address allowlist, the amount, and the server-to-server `validate` call.
 */

/** PHP's urlencode: everything but A-Z a-z 0-9 - _ . percent-encoded in upper-case hex, spaces as `+`. */
export function phpUrlencode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

/** The form's fields in PayFast's order (the signature follows that order). */
export const PAYFAST_FORM_ORDER = [
  'merchant_id',
  'merchant_key',
  'return_url',
  'cancel_url',
  'notify_url',
  'name_first',
  'email_address',
  'm_payment_id',
  'amount',
  'item_name',
] as const;

export type PayfastFormInput = Partial<Record<(typeof PAYFAST_FORM_ORDER)[number], string>>;

/** The fields to post to {base}/eng/process, `signature` last: MD5 of the non-empty fields (trimmed) and the passphrase. */
export function payfastFormFields(
  input: PayfastFormInput,
  passphrase: string | undefined,
): Record<string, string> {
  const fields: Record<string, string> = {};
  const parts: string[] = [];
  for (const key of PAYFAST_FORM_ORDER) {
    const value = input[key]?.trim();
    if (value === undefined || value === '') continue;
    fields[key] = value;
    parts.push(`${key}=${phpUrlencode(value)}`);
  }
  if (passphrase !== undefined && passphrase !== '')
    parts.push(`passphrase=${phpUrlencode(passphrase.trim())}`);
  fields.signature = md5(parts.join('&'));
  return fields;
}

/** An ITN's fields in posted order, and the parameter string of those before `signature`. */
export interface Itn {
  readonly fields: ReadonlyMap<string, string>;
  /** `key=urlencode(value)` joined by `&`, every posted field before `signature` (the validate body). */
  readonly paramString: string;
  readonly signature: string | undefined;
}

/** Reads an ITN body (application/x-www-form-urlencoded) keeping the posted order. */
export function parseItn(rawBody: Buffer): Itn {
  const fields = new Map<string, string>();
  const parts: string[] = [];
  let signature: string | undefined;
  let signed = false;
  for (const [key, value] of new URLSearchParams(rawBody.toString('utf8'))) {
    if (key === 'signature') {
      signature = value;
      signed = true;
      continue;
    }
    fields.set(key, value);
    if (!signed) parts.push(`${key}=${phpUrlencode(value)}`);
  }
  return { fields, paramString: parts.join('&'), signature };
}

export function itnSignatureValid(itn: Itn, passphrase: string | undefined): boolean {
  if (itn.signature === undefined || !/^[0-9a-fA-F]{32}$/.test(itn.signature)) return false;
  const text =
    passphrase === undefined || passphrase === ''
      ? itn.paramString
      : `${itn.paramString}&passphrase=${phpUrlencode(passphrase.trim())}`;
  return sameHex(md5(text), itn.signature);
}

/** The address an ITN came from is one of PayFast's (plain string match; IPv4-mapped IPv6 unwrapped). */
export function payfastSourceAllowed(address: string, validIps: readonly string[]): boolean {
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return validIps.includes(plain);
}

/** POST {base}/eng/query/validate with the ITN's parameter string: true when PayFast answers VALID. */
export async function payfastValidate(
  baseUrl: string,
  paramString: string,
  timeoutMs: number,
): Promise<boolean> {
  const response = await call(
    `${baseUrl}/eng/query/validate`,
    { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: paramString },
    timeoutMs,
  );
  if (response.status >= 500 || response.status === 429) {
    throw new ProviderUnavailable(`payfast validate: HTTP ${response.status}`);
  }
  return response.text.trim() === 'VALID';
}
