import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sameHex } from '../../src/funding/providers/http.ts';
import { ozowHash, ozowNotificationValid, ozowRedirectUrl } from '../../src/funding/providers/ozow.ts';
import {
  itnSignatureValid,
  parseItn,
  payfastFormFields,
  payfastSourceAllowed,
  phpUrlencode,
} from '../../src/funding/providers/payfast.ts';
import { paystackSignatureValid } from '../../src/funding/providers/paystack.ts';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe("PHP's urlencode", () => {
  it('encodes as PHP does: spaces as +, upper-case hex, only A-Za-z0-9-_. kept', () => {
    expect(phpUrlencode("a b~!*'()")).toBe('a+b%7E%21%2A%27%28%29');
    expect(phpUrlencode('https://x.co/r?a=1&b=2')).toBe('https%3A%2F%2Fx.co%2Fr%3Fa%3D1%26b%3D2');
    expect(phpUrlencode('Ünïcode')).toBe('%C3%9Cn%C3%AFcode');
  });

  it('keeps exactly the unreserved characters, whatever the text (reference: byte by byte)', () => {
    const reference = (s: string) =>
      [...Buffer.from(s, 'utf8')]
        .map((b) => {
          const c = String.fromCharCode(b);
          if (/[A-Za-z0-9_.-]/.test(c)) return c;
          if (c === ' ') return '+';
          return `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
        })
        .join('');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(phpUrlencode(s)).toBe(reference(s));
      }),
    );
  });
});

describe('PayFast', () => {
  it("signs the form's non-empty fields in PayFast's order, trimmed, with the passphrase", () => {
    const fields = payfastFormFields(
      {
        merchant_id: '10000100',
        merchant_key: '46f0cd694581a',
        amount: ' 100.00 ',
        item_name: 'Test item',
        name_first: '',
      },
      'jt7NOE43FZPn',
    );
    expect(Object.keys(fields)).toEqual(['merchant_id', 'merchant_key', 'amount', 'item_name', 'signature']);
    expect(fields.signature).toBe(
      md5(
        'merchant_id=10000100&merchant_key=46f0cd694581a&amount=100.00&item_name=Test+item&passphrase=jt7NOE43FZPn',
      ),
    );
  });

  it('checks an ITN over the posted fields in posted order, plus the passphrase', () => {
    const param = 'm_payment_id=D1&pf_payment_id=9&payment_status=COMPLETE&amount_gross=10.00&item_name=A+b';
    const body = `${param}&signature=${md5(`${param}&passphrase=pass+word`)}`;
    const itn = parseItn(Buffer.from(body));
    expect(itn.paramString).toBe(param);
    expect(itnSignatureValid(itn, 'pass word')).toBe(true);
    expect(itnSignatureValid(itn, 'other')).toBe(false);
    const reordered = parseItn(
      Buffer.from(`pf_payment_id=9&m_payment_id=D1${body.slice(param.indexOf('&payment_status'))}`),
    );
    expect(itnSignatureValid(reordered, 'pass word')).toBe(false);
    expect(itnSignatureValid(parseItn(Buffer.from(param)), 'pass word')).toBe(false);
  });

  it('takes ITNs only from the allowlisted addresses', () => {
    expect(payfastSourceAllowed('197.97.145.144', ['197.97.145.144'])).toBe(true);
    expect(payfastSourceAllowed('::ffff:197.97.145.144', ['197.97.145.144'])).toBe(true);
    expect(payfastSourceAllowed('10.0.0.1', ['197.97.145.144'])).toBe(false);
  });
});

describe('Ozow', () => {
  it('hashes the lower-cased concatenation plus the private key (SHA-512)', () => {
    const expected = createHash('sha512').update('siteZA1.00refkey'.toLowerCase()).digest('hex');
    expect(ozowHash(['SITE', 'ZA', '1.00', 'Ref'], 'Key')).toBe(expected);
    const url = new URL(ozowRedirectUrl('https://pay.example', { SiteCode: 'S', Amount: '1.00' }, 'k'));
    expect(url.searchParams.get('HashCheck')).toBe(createHash('sha512').update('s1.00k').digest('hex'));
  });

  it('checks a notification Hash in constant time', () => {
    const n = {
      SiteCode: 'S',
      TransactionId: 't',
      TransactionReference: 'r',
      Amount: '1.00',
      Status: 'Complete',
      CurrencyCode: 'ZAR',
      IsTest: 'false',
      StatusMessage: 'ok',
    };
    const Hash = ozowHash(
      ['S', 't', 'r', '1.00', 'Complete', '', '', '', '', '', 'ZAR', 'false', 'ok'],
      'pk',
    );
    expect(ozowNotificationValid({ ...n, Hash }, 'pk')).toBe(true);
    expect(ozowNotificationValid({ ...n, Hash: Hash.toUpperCase() }, 'pk')).toBe(true);
    expect(ozowNotificationValid({ ...n, Amount: '2.00', Hash }, 'pk')).toBe(false);
    expect(ozowNotificationValid({ ...n, Hash: 'abc' }, 'pk')).toBe(false);
  });
});

describe('Paystack', () => {
  it('checks the HMAC-SHA512 of the raw body', () => {
    const body = Buffer.from('{"event":"charge.success"}');
    const signature = createHmac('sha512', 'sk').update(body).digest('hex');
    expect(paystackSignatureValid(body, signature, 'sk')).toBe(true);
    expect(paystackSignatureValid(Buffer.from(`${body.toString()} `), signature, 'sk')).toBe(false);
    expect(paystackSignatureValid(body, undefined, 'sk')).toBe(false);
    expect(paystackSignatureValid(body, signature.slice(2), 'sk')).toBe(false);
    expect(sameHex('ab', 'AB')).toBe(true);
    expect(sameHex('ab', 'abc')).toBe(false);
  });
});
