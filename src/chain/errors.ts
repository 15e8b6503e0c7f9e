import { isError, type Interface } from 'ethers';

export type ChainErrorCode =
  /** The node did not answer (down, refused, DNS). */
  | 'unreachable'
  /** An RPC call or a confirmation took longer than its timeout. */
  | 'timeout'
  /** The contract refused: at estimation (with the decoded custom error) or on chain. */
  | 'reverted'
  /** The node refused the transaction (funds, nonce, fees). */
  | 'rejected'
  /** Bad input or state: no contract at an address, a known tx hash that is not ours... */
  | 'invalid'
  | 'failed';

export interface DecodedRevert {
  name: string;
  args: unknown[];
}

/** Every failure of the chain client. Messages never hold keys or raw RPC payloads. */
export class ChainError extends Error {
  override readonly name = 'ChainError';
  readonly code: ChainErrorCode;
  readonly revert: DecodedRevert | undefined;

  constructor(
    code: ChainErrorCode,
    message: string,
    options: { cause?: unknown; revert?: DecodedRevert } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.revert = options.revert;
  }

  /** Worth retrying later with the same inputs (a job's retry), as opposed to a refusal. */
  get transient(): boolean {
    return this.code === 'unreachable' || this.code === 'timeout' || this.code === 'failed';
  }
}

const UNREACHABLE = /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|socket hang up|fetch failed/i;

function revertData(err: unknown): string | undefined {
  if (isError(err, 'CALL_EXCEPTION') && typeof err.data === 'string' && err.data.length >= 10)
    return err.data;
  return undefined;
}

function decodeRevert(err: unknown, iface: Interface | undefined): DecodedRevert | undefined {
  const data = revertData(err);
  if (data === undefined || iface === undefined) return undefined;
  const parsed = iface.parseError(data);
  if (parsed === null) return undefined;
  return { name: parsed.name, args: [...(parsed.args as Iterable<unknown>)] };
}

function causeText(err: unknown): string {
  let text = '';
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    text += ` ${e.message} ${(e as { code?: unknown }).code === undefined ? '' : String((e as { code?: unknown }).code)}`;
  }
  return text;
}

function shortMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const short = (err as { shortMessage?: unknown }).shortMessage;
  return typeof short === 'string' ? short : err.message;
}

/**
 * Wraps whatever ethers or the network threw in a ChainError saying which operation failed and
 * why; ethers' own message is cut to its short form, which leaves out the request payload.
 */
export function toChainError(operation: string, err: unknown, iface?: Interface): ChainError {
  if (err instanceof ChainError) return err;
  const revert = decodeRevert(err, iface);
  if (revert !== undefined) {
    const args = revert.args.map((a) => String(a)).join(', ');
    return new ChainError('reverted', `${operation} reverted: ${revert.name}(${args})`, {
      cause: err,
      revert,
    });
  }
  const short = shortMessage(err);
  if (isError(err, 'TIMEOUT'))
    return new ChainError('timeout', `${operation} timed out: ${short}`, { cause: err });
  if (isError(err, 'CALL_EXCEPTION'))
    return new ChainError('reverted', `${operation} reverted: ${short}`, { cause: err });
  if (
    isError(err, 'INSUFFICIENT_FUNDS') ||
    isError(err, 'NONCE_EXPIRED') ||
    isError(err, 'REPLACEMENT_UNDERPRICED')
  ) {
    return new ChainError('rejected', `${operation} rejected by the node: ${short}`, { cause: err });
  }
  if (UNREACHABLE.test(causeText(err))) {
    return new ChainError('unreachable', `${operation} failed: chain unreachable (${short})`, { cause: err });
  }
  return new ChainError('failed', `${operation} failed: ${short}`, { cause: err });
}
