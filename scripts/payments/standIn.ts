import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatAssetAmount, parseAssetAmount } from '../../src/actors/money.ts';
import { ozowHash, OZOW_NOTIFICATION_ORDER, OZOW_REQUEST_ORDER } from '../../src/funding/providers/ozow.ts';
import { payfastFormFields, phpUrlencode, PAYFAST_FORM_ORDER } from '../../src/funding/providers/payfast.ts';
import { paystackSignature } from '../../src/funding/providers/paystack.ts';
import { sameHex } from '../../src/funding/providers/http.ts';

/*
 * Loopback stand-ins of Paystack, PayFast and Ozow (issue 15), speaking the parts of their
 * documented protocols the exchange uses, on one HTTP server:
 *
 *   {url}/paystack   POST /transaction/initialize, GET /transaction/verify/:ref (Bearer secret),
 *                    POST /transfer (duplicate reference refused), GET /transfer/verify/:ref;
 *                    charge.success webhooks signed HMAC-SHA512 (x-paystack-signature)
 *   {url}/payfast    POST /eng/process (the signed form: checked, then the pay page),
 *                    POST /eng/query/validate (VALID | INVALID); ITNs MD5-signed with the passphrase
 *   {url}/ozow       GET / (the redirect: HashCheck checked, then the pay page);
 *   {url}/ozow-api   GET /GetTransactionByReference (header ApiKey); notifications SHA-512-hashed
 *   {url}/pay/:ref   the page that plays the customer: Pay or Cancel, then the notification is sent
 *
 * `apiDown` makes every provider API answer 503 (the webhooks still arrive); `onTransfer` lets a
 * test act while a transfer request is in flight (the worker-kill test).
 */

export interface PaymentsStandInOptions {
  readonly port?: number;
  readonly host?: string;
  readonly paystack: { readonly secretKey: string; readonly webhookUrl: string };
  readonly payfast: {
    readonly merchantId: string;
    readonly merchantKey: string;
    readonly passphrase: string;
  };
  readonly ozow: { readonly siteCode: string; readonly privateKey: string; readonly apiKey: string };
}

export type ProviderName = 'paystack' | 'payfast' | 'ozow';

export interface Session {
  readonly provider: ProviderName;
  readonly reference: string;
  /** Decimal, 2 places. */
  readonly amount: string;
  readonly currency: string;
  readonly notifyUrl: string;
  readonly returnUrl: string;
  readonly providerId: string;
  status: 'open' | 'paid' | 'failed';
  /** What the provider says was paid (a test may make it differ from what was asked). */
  paidAmount: string;
}

export interface Transfer {
  readonly reference: string;
  readonly recipient: string;
  readonly amount: number;
  readonly currency: string;
  readonly transferCode: string;
  status: 'success' | 'failed';
}

/** A notification as the provider would send it: where, what, and with which headers. */
export interface PreparedNotification {
  readonly url: string;
  readonly body: string;
  readonly headers: Record<string, string>;
}

export interface PaymentsStandIn {
  readonly url: string;
  /** Where Paystack webhooks go (set once the exchange's port is known). */
  paystackWebhookUrl: string;
  readonly sessions: ReadonlyMap<string, Session>;
  readonly transfers: ReadonlyMap<string, Transfer>;
  /** Transfer requests received (duplicates included). */
  readonly transferRequests: () => number;
  apiDown: boolean;
  /** Recipient codes whose transfers fail. */
  readonly failingRecipients: Set<string>;
  onTransfer: ((transfer: Transfer) => Promise<void> | void) | undefined;
  /** Marks the session paid (or failed) and builds its notification, without sending it. */
  prepare(
    reference: string,
    options?: { outcome?: 'paid' | 'failed'; paidAmount?: string },
  ): PreparedNotification;
  /** Sends a prepared notification; answers the exchange's status and body. */
  deliver(notification: PreparedNotification): Promise<{ status: number; body: string }>;
  /** prepare + deliver. */
  pay(
    reference: string,
    options?: { outcome?: 'paid' | 'failed'; paidAmount?: string },
  ): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

const MAX_SESSIONS = 100_000;
const MAX_BODY = 64 * 1024;

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, { 'content-type': type });
  response.end(text);
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function payPage(session: Session): string {
  const ref = escapeHtml(session.reference);
  return `<!doctype html><meta charset="utf-8"><title>${session.provider} stand-in</title>
<style>body{font:16px system-ui;max-width:28rem;margin:3rem auto}button{font-size:1rem;margin-right:1rem}</style>
<h1>${escapeHtml(session.provider)} (local stand-in)</h1>
<p>Pay <b>${escapeHtml(session.amount)} ${escapeHtml(session.currency)}</b> for ${ref}?</p>
<p>Status: <b>${session.status}</b></p>
<form method="post" action="/pay/${encodeURIComponent(session.reference)}">
<button name="outcome" value="paid">Pay</button><button name="outcome" value="failed">Cancel</button></form>
<p><a href="${escapeHtml(session.returnUrl)}">Back to the exchange</a></p>`;
}

export async function startPaymentsStandIn(options: PaymentsStandInOptions): Promise<PaymentsStandIn> {
  const sessions = new Map<string, Session>();
  const transfers = new Map<string, Transfer>();
  let transferRequests = 0;
  const failingRecipients = new Set<string>();
  let url = '';

  const open = (session: Session): boolean => {
    if (sessions.size >= MAX_SESSIONS && !sessions.has(session.reference)) return false;
    sessions.set(session.reference, session);
    return true;
  };

  const minor = (decimal: string) => {
    const parsed = parseAssetAmount(decimal, 2);
    return parsed.ok ? parsed.value : 0n;
  };

  const standIn: PaymentsStandIn = {
    get url() {
      return url;
    },
    paystackWebhookUrl: options.paystack.webhookUrl,
    sessions,
    transfers,
    transferRequests: () => transferRequests,
    apiDown: false,
    failingRecipients,
    onTransfer: undefined,
    prepare(reference, { outcome = 'paid', paidAmount } = {}) {
      const session = sessions.get(reference);
      if (session === undefined) throw new Error(`no session ${reference}`);
      session.status = outcome;
      if (paidAmount !== undefined) session.paidAmount = paidAmount;
      return notificationOf(session);
    },
    async deliver(notification) {
      const response = await fetch(notification.url, {
        method: 'POST',
        headers: notification.headers,
        body: notification.body,
        signal: AbortSignal.timeout(10_000),
      });
      return { status: response.status, body: await response.text() };
    },
    async pay(reference, payOptions) {
      return standIn.deliver(standIn.prepare(reference, payOptions));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  function notificationOf(s: Session): PreparedNotification {
    if (s.provider === 'paystack') {
      const body = JSON.stringify({
        event: s.status === 'paid' ? 'charge.success' : 'charge.failed',
        data: {
          id: Number(s.providerId),
          reference: s.reference,
          amount: Number(minor(s.paidAmount)),
          currency: s.currency,
          status: s.status === 'paid' ? 'success' : 'failed',
          paid_at: new Date().toISOString(),
        },
      });
      const signature = paystackSignature(Buffer.from(body), options.paystack.secretKey);
      return {
        url: standIn.paystackWebhookUrl,
        body,
        headers: { 'content-type': 'application/json', 'x-paystack-signature': signature },
      };
    }
    if (s.provider === 'payfast') {
      const pairs: [string, string][] = [
        ['m_payment_id', s.reference],
        ['pf_payment_id', s.providerId],
        ['payment_status', s.status === 'paid' ? 'COMPLETE' : 'CANCELLED'],
        ['item_name', `Deposit ${s.reference}`],
        ['amount_gross', s.paidAmount],
        ['amount_fee', '0.00'],
        ['amount_net', s.paidAmount],
        ['merchant_id', options.payfast.merchantId],
      ];
      const param = pairs.map(([k, v]) => `${k}=${phpUrlencode(v)}`).join('&');
      const signature = md5Hex(`${param}&passphrase=${phpUrlencode(options.payfast.passphrase)}`);
      return {
        url: s.notifyUrl,
        body: `${param}&signature=${signature}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      };
    }
    const fields: Record<string, string> = {
      SiteCode: options.ozow.siteCode,
      TransactionId: s.providerId,
      TransactionReference: s.reference,
      Amount: s.paidAmount,
      Status: s.status === 'paid' ? 'Complete' : 'Cancelled',
      Optional1: '',
      Optional2: '',
      Optional3: '',
      Optional4: '',
      Optional5: '',
      CurrencyCode: s.currency,
      IsTest: 'false',
      StatusMessage: s.status === 'paid' ? 'Payment complete' : 'Cancelled by the customer',
    };
    const hash = ozowHash(
      OZOW_NOTIFICATION_ORDER.map((k) => fields[k] ?? ''),
      options.ozow.privateKey,
    );
    return {
      url: s.notifyUrl,
      body: new URLSearchParams({ ...fields, Hash: hash }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    };
  }

  async function paystackApi(path: string, request: IncomingMessage, response: ServerResponse) {
    if (request.headers.authorization !== `Bearer ${options.paystack.secretKey}`) {
      send(response, 401, { status: false, message: 'Invalid key' });
      return;
    }
    if (request.method === 'POST' && path === '/transaction/initialize') {
      const body = JSON.parse(await readBody(request)) as Record<string, unknown>;
      const { reference, amount, currency, callback_url: callback } = body;
      if (typeof reference !== 'string' || typeof amount !== 'number' || typeof currency !== 'string') {
        send(response, 400, { status: false, message: 'reference, amount and currency are required' });
        return;
      }
      if (sessions.has(reference)) {
        send(response, 400, { status: false, message: 'Duplicate Transaction Reference' });
        return;
      }
      const amountText = formatAssetAmount(BigInt(amount), 2);
      const session: Session = {
        provider: 'paystack',
        reference,
        amount: amountText,
        paidAmount: amountText,
        currency,
        notifyUrl: standIn.paystackWebhookUrl,
        returnUrl: typeof callback === 'string' ? callback : '/',
        providerId: String(Math.floor(Math.random() * 1e9)),
        status: 'open',
      };
      if (!open(session)) {
        send(response, 429, { status: false, message: 'too many sessions' });
        return;
      }
      send(response, 200, {
        status: true,
        message: 'Authorization URL created',
        data: { authorization_url: `${url}/pay/${reference}`, access_code: randomUUID(), reference },
      });
      return;
    }
    const verify = /^\/transaction\/verify\/([^/]+)$/.exec(path);
    if (request.method === 'GET' && verify !== null) {
      const session = sessions.get(decodeURIComponent(verify[1]!));
      if (session === undefined || session.provider !== 'paystack') {
        send(response, 404, { status: false, message: 'Transaction reference not found' });
        return;
      }
      const status =
        session.status === 'paid' ? 'success' : session.status === 'failed' ? 'failed' : 'abandoned';
      send(response, 200, {
        status: true,
        message: 'Verification successful',
        data: {
          reference: session.reference,
          amount: Number(minor(session.paidAmount)),
          currency: session.currency,
          status,
        },
      });
      return;
    }
    if (request.method === 'POST' && path === '/transfer') {
      transferRequests++;
      const body = JSON.parse(await readBody(request)) as Record<string, unknown>;
      const { reference, amount, recipient, currency } = body;
      if (typeof reference !== 'string' || typeof amount !== 'number' || typeof recipient !== 'string') {
        send(response, 400, {
          status: false,
          message: 'reference, amount and recipient are required',
        });
        return;
      }
      if (transfers.has(reference)) {
        send(response, 400, {
          status: false,
          message: 'Transfer reference already used',
          code: 'duplicate_reference',
        });
        return;
      }
      const transfer: Transfer = {
        reference,
        recipient,
        amount,
        currency: typeof currency === 'string' ? currency : 'NGN',
        transferCode: `TRF_${randomUUID().replaceAll('-', '').slice(0, 12)}`,
        status: failingRecipients.has(recipient) ? 'failed' : 'success',
      };
      transfers.set(reference, transfer);
      await standIn.onTransfer?.(transfer);
      send(response, 200, {
        status: true,
        message: 'Transfer has been queued',
        data: transferData(transfer),
      });
      return;
    }
    const transferVerify = /^\/transfer\/verify\/([^/]+)$/.exec(path);
    if (request.method === 'GET' && transferVerify !== null) {
      const transfer = transfers.get(decodeURIComponent(transferVerify[1]!));
      if (transfer === undefined) {
        send(response, 404, { status: false, message: 'Transfer not found' });
        return;
      }
      send(response, 200, {
        status: true,
        message: 'Transfer retrieved',
        data: transferData(transfer),
      });
      return;
    }
    send(response, 404, { status: false, message: 'not found' });
  }

  const transferData = (t: Transfer) => ({
    reference: t.reference,
    transfer_code: t.transferCode,
    amount: t.amount,
    currency: t.currency,
    status: t.status,
    reason: t.status === 'failed' ? 'Recipient account is closed' : null,
  });

  async function payfastProcess(request: IncomingMessage, response: ServerResponse) {
    const fields = Object.fromEntries(new URLSearchParams(await readBody(request)));
    const { signature, ...rest } = fields;
    const expected = payfastFormFields(
      Object.fromEntries(PAYFAST_FORM_ORDER.map((k) => [k, rest[k]])),
      options.payfast.passphrase,
    ).signature!;
    if (signature === undefined || !sameHex(expected, signature)) {
      send(response, 400, 'Invalid signature', 'text/plain');
      return;
    }
    if (
      rest.merchant_id !== options.payfast.merchantId ||
      rest.merchant_key !== options.payfast.merchantKey
    ) {
      send(response, 400, 'Invalid merchant', 'text/plain');
      return;
    }
    const reference = rest.m_payment_id ?? '';
    const session: Session = sessions.get(reference) ?? {
      provider: 'payfast',
      reference,
      amount: rest.amount ?? '0.00',
      paidAmount: rest.amount ?? '0.00',
      currency: 'ZAR',
      notifyUrl: rest.notify_url ?? '',
      returnUrl: rest.return_url ?? '/',
      providerId: String(Math.floor(Math.random() * 1e9)),
      status: 'open',
    };
    if (!open(session)) {
      send(response, 429, 'too many sessions', 'text/plain');
      return;
    }
    send(response, 200, payPage(session), 'text/html; charset=utf-8');
  }

  async function payfastValidate(request: IncomingMessage, response: ServerResponse) {
    const body = await readBody(request);
    const fields = new URLSearchParams(body);
    const session = sessions.get(fields.get('m_payment_id') ?? '');
    const valid =
      session !== undefined &&
      session.provider === 'payfast' &&
      session.status !== 'open' &&
      fields.get('amount_gross') === session.paidAmount &&
      fields.get('pf_payment_id') === session.providerId;
    send(response, 200, valid ? 'VALID' : 'INVALID', 'text/plain');
  }

  function ozowPay(query: URLSearchParams, response: ServerResponse) {
    const values = OZOW_REQUEST_ORDER.map((k) => query.get(k) ?? '');
    const given = query.get('HashCheck') ?? '';
    if (
      !sameHex(ozowHash(values, options.ozow.privateKey), given) ||
      query.get('SiteCode') !== options.ozow.siteCode
    ) {
      send(response, 400, 'Invalid HashCheck', 'text/plain');
      return;
    }
    const reference = query.get('TransactionReference') ?? '';
    const session: Session = sessions.get(reference) ?? {
      provider: 'ozow',
      reference,
      amount: query.get('Amount') ?? '0.00',
      paidAmount: query.get('Amount') ?? '0.00',
      currency: query.get('CurrencyCode') ?? 'ZAR',
      notifyUrl: query.get('NotifyUrl') ?? '',
      returnUrl: query.get('SuccessUrl') ?? '/',
      providerId: randomUUID(),
      status: 'open',
    };
    if (!open(session)) {
      send(response, 429, 'too many sessions', 'text/plain');
      return;
    }
    send(response, 200, payPage(session), 'text/html; charset=utf-8');
  }

  function ozowApi(query: URLSearchParams, request: IncomingMessage, response: ServerResponse) {
    if (request.headers.apikey !== options.ozow.apiKey) {
      send(response, 401, { message: 'Invalid ApiKey' });
      return;
    }
    if (query.get('siteCode') !== options.ozow.siteCode) {
      send(response, 200, []);
      return;
    }
    const session = sessions.get(query.get('transactionReference') ?? '');
    if (session === undefined || session.provider !== 'ozow') {
      send(response, 200, []);
      return;
    }
    const status =
      session.status === 'paid' ? 'Complete' : session.status === 'failed' ? 'Cancelled' : 'Pending';
    send(response, 200, [
      {
        transactionId: session.providerId,
        merchantCode: options.ozow.siteCode,
        siteCode: options.ozow.siteCode,
        transactionReference: session.reference,
        currencyCode: session.currency,
        amount: Number(session.paidAmount),
        status,
        statusMessage: status,
        createdDate: new Date().toISOString(),
      },
    ]);
  }

  async function customer(reference: string, request: IncomingMessage, response: ServerResponse) {
    const session = sessions.get(reference);
    if (session === undefined) {
      send(response, 404, 'No such payment', 'text/plain');
      return;
    }
    if (request.method === 'GET') {
      send(response, 200, payPage(session), 'text/html; charset=utf-8');
      return;
    }
    const outcome =
      new URLSearchParams(await readBody(request)).get('outcome') === 'failed' ? 'failed' : 'paid';
    const delivered = await standIn
      .pay(reference, { outcome })
      .catch((error: unknown) => ({ status: 0, body: String(error) }));
    send(
      response,
      200,
      `${payPage(session)}<p>Notification sent: HTTP ${delivered.status} ${escapeHtml(delivered.body.slice(0, 200))}</p>`,
      'text/html; charset=utf-8',
    );
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const parsed = new URL(request.url ?? '/', 'http://stand-in');
    const path = parsed.pathname;
    const api =
      path.startsWith('/paystack/') ||
      path === '/payfast/eng/query/validate' ||
      path.startsWith('/ozow-api/');
    if (api && standIn.apiDown) {
      send(response, 503, { status: false, message: 'Service unavailable' });
      return;
    }
    if (path.startsWith('/paystack/')) return paystackApi(path.slice('/paystack'.length), request, response);
    if (path === '/payfast/eng/process' && request.method === 'POST')
      return payfastProcess(request, response);
    if (path === '/payfast/eng/query/validate' && request.method === 'POST')
      return payfastValidate(request, response);
    if ((path === '/ozow/' || path === '/ozow') && request.method === 'GET') {
      ozowPay(parsed.searchParams, response);
      return;
    }
    if (path === '/ozow-api/GetTransactionByReference') {
      ozowApi(parsed.searchParams, request, response);
      return;
    }
    const pay = /^\/pay\/([^/]+)$/.exec(path);
    if (pay !== null) return customer(decodeURIComponent(pay[1]!), request, response);
    send(response, 404, { message: 'not found' });
  }

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 400, { status: false, message: String(error) });
    });
  });
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const address = server.address() as AddressInfo;
  url = `http://${options.host ?? '127.0.0.1'}:${address.port}`;
  return standIn;
}

/** PHP's md5() of the parameter string, as PayFast signs. */
const md5Hex = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

/** The env an exchange needs to talk to this stand-in (the test and demo use it). */
export function standInEnv(
  standIn: PaymentsStandIn,
  options: PaymentsStandInOptions,
): Record<string, string> {
  return {
    PAYSTACK_SECRET_KEY: options.paystack.secretKey,
    PAYSTACK_BASE_URL: `${standIn.url}/paystack`,
    PAYFAST_MERCHANT_ID: options.payfast.merchantId,
    PAYFAST_MERCHANT_KEY: options.payfast.merchantKey,
    PAYFAST_PASSPHRASE: options.payfast.passphrase,
    PAYFAST_BASE_URL: `${standIn.url}/payfast`,
    PAYFAST_VALID_IPS: '127.0.0.1,::1',
    OZOW_SITE_CODE: options.ozow.siteCode,
    OZOW_PRIVATE_KEY: options.ozow.privateKey,
    OZOW_API_KEY: options.ozow.apiKey,
    OZOW_BASE_URL: `${standIn.url}/ozow`,
    OZOW_API_URL: `${standIn.url}/ozow-api`,
  };
}
