/**
 * Checks that a frame is exactly one plain MessagePack value (PROTOCOL.md): no extension types
 * (msgpackr's records, structured clones and dates among them, which a msgpackr decoder would
 * otherwise interpret), no trailing bytes, and nesting at most `maxDepth` deep. Iterative, one pass,
 * no allocation per value. Returns why the frame is refused, or undefined when it is plain.
 */
export function plainMsgpackProblem(bytes: Uint8Array, maxDepth = 32): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let at = 0;
  // Values still to read at each open container level.
  const pending: number[] = [1];
  while (pending.length > 0) {
    const top = pending.length - 1;
    if (pending[top] === 0) {
      pending.pop();
      continue;
    }
    pending[top]!--;
    if (at >= n) return 'truncated MessagePack';
    const b = bytes[at++]!;
    let skip = 0;
    let children = -1;
    if (b <= 0x7f || b >= 0xe0)
      skip = 0; // fixint
    else if (b >= 0x80 && b <= 0x8f)
      children = (b & 0x0f) * 2; // fixmap
    else if (b >= 0x90 && b <= 0x9f)
      children = b & 0x0f; // fixarray
    else if (b >= 0xa0 && b <= 0xbf)
      skip = b & 0x1f; // fixstr
    else {
      const need = (k: number) => (at + k > n ? undefined : k);
      switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break;
        case 0xc4:
        case 0xd9: {
          if (need(1) === undefined) return 'truncated MessagePack';
          skip = bytes[at]!;
          at += 1;
          break;
        }
        case 0xc5:
        case 0xda: {
          if (need(2) === undefined) return 'truncated MessagePack';
          skip = view.getUint16(at);
          at += 2;
          break;
        }
        case 0xc6:
        case 0xdb: {
          if (need(4) === undefined) return 'truncated MessagePack';
          skip = view.getUint32(at);
          at += 4;
          break;
        }
        case 0xca:
          skip = 4;
          break;
        case 0xcb:
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xdc:
        case 0xde: {
          if (need(2) === undefined) return 'truncated MessagePack';
          children = view.getUint16(at) * (b === 0xde ? 2 : 1);
          at += 2;
          break;
        }
        case 0xdd:
        case 0xdf: {
          if (need(4) === undefined) return 'truncated MessagePack';
          children = view.getUint32(at) * (b === 0xdf ? 2 : 1);
          at += 4;
          break;
        }
        case 0xc1:
          return 'byte 0xc1 is never used in MessagePack';
        default:
          // 0xc7-0xc9 and 0xd4-0xd8: extension types.
          return 'MessagePack extension types are not accepted';
      }
    }
    at += skip;
    if (at > n) return 'truncated MessagePack';
    if (children > 0) {
      if (pending.length > maxDepth) return `nesting deeper than ${maxDepth} levels`;
      // Each child takes at least one byte: a count beyond what is left is a lie.
      if (children > n - at) return 'truncated MessagePack';
      pending.push(children);
    }
  }
  return at === n ? undefined : 'a frame must hold exactly one MessagePack value';
}
