import { verify as verifySignature, X509Certificate } from 'node:crypto';
import { z } from 'zod/v4';

/*
 * Verification of Amazon SNS message signatures, following AWS's documented procedure
 * ("Verifying the signatures of Amazon SNS messages"): the canonical string is `Key\nValue\n` for
 * the type's keys in byte order, signed with RSA over SHA1 (SignatureVersion 1) or SHA256 (2) by the
 * certificate at SigningCertURL.
 *
 * Why not `sns-payload-validator` (2.1.0; no longer a dependency): it hard-codes the certificate
 * URL pattern `https://sns.<region>.amazonaws.com/...` and fetches over https only, so the
 * signing-certificate host cannot be allowlisted from config, and neither development nor the
 * offline tests (the stand-in serves its own certificate) could use it. It also keeps the key list of
 * the message being validated in module state shared by concurrent calls. What we take from it and
 * from AWS: the key lists, the URL check before any fetch, and a certificate cache.
 *
 * Certificate and SubscribeURL hosts must match the allowlist (`sns.*.amazonaws.com` style: `*` is
 * one DNS label; an entry may carry a port). https is required, except on loopback hosts
 * (127.0.0.1, localhost, [::1]) where http is accepted so that a local stand-in works without TLS.
 * Only topics in the topic allowlist are accepted: anyone can sign a valid SNS message from a topic
 * of their own AWS account.
 */

export const SnsEnvelope = z.object({
  Type: z.enum(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']),
  MessageId: z.string().min(1),
  TopicArn: z.string().min(1),
  Subject: z.string().nullish(),
  Message: z.string(),
  Timestamp: z.string().min(1),
  SignatureVersion: z.enum(['1', '2']),
  Signature: z.string().min(1),
  SigningCertURL: z.string().min(1),
  SubscribeURL: z.string().optional(),
  Token: z.string().optional(),
  UnsubscribeURL: z.string().optional(),
});
export type SnsEnvelope = z.infer<typeof SnsEnvelope>;

const NOTIFICATION_KEYS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const;
const CONFIRMATION_KEYS = [
  'Message',
  'MessageId',
  'SubscribeURL',
  'Timestamp',
  'Token',
  'TopicArn',
  'Type',
] as const;

/** The string SNS signs: `Key\nValue\n` per key present, in AWS's order (Subject only when set). */
export function snsCanonicalString(envelope: SnsEnvelope): string {
  const keys = envelope.Type === 'Notification' ? NOTIFICATION_KEYS : CONFIRMATION_KEYS;
  let text = '';
  for (const key of keys) {
    const value = envelope[key];
    if (value === undefined || value === null) continue;
    text += `${key}\n${value}\n`;
  }
  return text;
}

export type SnsVerification = { readonly ok: true } | { readonly ok: false; readonly message: string };

/** Checks an envelope's signature; the webhook handler receives it as a dependency. */
export type SnsVerify = (envelope: SnsEnvelope) => Promise<SnsVerification>;

export interface SnsVerifierOptions {
  /** Hosts SigningCertURL and SubscribeURL may point at (see the file comment). */
  readonly allowedHosts: readonly string[];
  /** TopicArns accepted; an empty list refuses every SNS message. */
  readonly allowedTopicArns: readonly string[];
  readonly fetchTimeoutMs?: number;
  readonly maxCachedCertificates?: number;
  /** Clock for the certificate's validity period, ms. */
  readonly now?: () => number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export class SnsVerifier {
  private readonly hostPatterns: readonly RegExp[];
  private readonly topics: ReadonlySet<string>;
  private readonly certificates = new Map<string, Promise<X509Certificate>>();
  private readonly fetchTimeoutMs: number;
  private readonly maxCached: number;
  private readonly now: () => number;

  constructor(options: SnsVerifierOptions) {
    this.hostPatterns = options.allowedHosts.map(hostPattern);
    this.topics = new Set(options.allowedTopicArns);
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
    this.maxCached = options.maxCachedCertificates ?? 100;
    this.now = options.now ?? Date.now;
  }

  /** A URL this verifier may fetch (certificate, SubscribeURL): allowlisted host, https or loopback http. */
  isAllowedUrl(text: string): boolean {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return false;
    }
    if (url.username !== '' || url.password !== '') return false;
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) return false;
    return this.hostPatterns.some((pattern) => pattern.test(url.host) || pattern.test(url.hostname));
  }

  readonly verify: SnsVerify = async (envelope) => {
    if (!this.topics.has(envelope.TopicArn)) {
      return { ok: false, message: `SNS topic ${envelope.TopicArn} is not allowlisted` };
    }
    const certUrl = envelope.SigningCertURL;
    if (!this.isAllowedUrl(certUrl) || !new URL(certUrl).pathname.endsWith('.pem')) {
      return { ok: false, message: `SNS signing certificate URL not allowlisted: ${certUrl}` };
    }
    let certificate: X509Certificate;
    try {
      certificate = await this.certificate(certUrl);
    } catch (error) {
      return { ok: false, message: `SNS signing certificate unavailable: ${describe(error)}` };
    }
    const now = this.now();
    if (now < Date.parse(certificate.validFrom) || now > Date.parse(certificate.validTo)) {
      return { ok: false, message: 'SNS signing certificate is not valid now' };
    }
    const algorithm = envelope.SignatureVersion === '1' ? 'sha1' : 'sha256';
    let valid = false;
    try {
      valid = verifySignature(
        algorithm,
        Buffer.from(snsCanonicalString(envelope), 'utf8'),
        certificate.publicKey,
        Buffer.from(envelope.Signature, 'base64'),
      );
    } catch {
      valid = false;
    }
    return valid ? { ok: true } : { ok: false, message: 'invalid SNS signature' };
  };

  private certificate(url: string): Promise<X509Certificate> {
    const cached = this.certificates.get(url);
    if (cached !== undefined) return cached;
    const loading = this.download(url);
    if (this.certificates.size >= this.maxCached) {
      const oldest = this.certificates.keys().next();
      if (oldest.done !== true) this.certificates.delete(oldest.value);
    }
    this.certificates.set(url, loading);
    // A failed download is not cached: the next message tries again.
    loading.catch(() => this.certificates.delete(url));
    return loading;
  }

  private async download(url: string): Promise<X509Certificate> {
    const response = await fetch(url, {
      redirect: 'error',
      signal: AbortSignal.timeout(this.fetchTimeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status} from ${url}`);
    }
    return new X509Certificate(await response.text());
  }
}

/** `sns.*.amazonaws.com` → one label per `*`, case-insensitive, whole host. */
function hostPattern(entry: string): RegExp {
  const trimmed = entry.trim().toLowerCase();
  if (trimmed === '' || /[^a-z0-9.*:[\]-]/.test(trimmed)) {
    throw new Error(`SNS allowed host ${JSON.stringify(entry)} is not a host name pattern`);
  }
  const source = trimmed
    .split('*')
    .map((part) => part.replace(/[.[\]]/g, (c) => `\\${c}`))
    .join('[a-z0-9-]+');
  return new RegExp(`^${source}$`, 'i');
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return 'error';
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
