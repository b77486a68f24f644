// Streaming reader for big JSON documents whose top level is an object or an array: yields one
// top-level member at a time (`[key, value]` for an object, `[index, value]` for an array), so a
// 100 MB Debian security-tracker file is never held in memory as a whole (only one source
// package's entry at a time, as bytes and then as the parsed value).
//
// The scanner works on bytes: JSON's structural characters and string delimiters are ASCII, and
// a UTF-8 multi-byte sequence never contains an ASCII byte, so a value can be cut out of the byte
// stream and decoded on its own. Each member's value is handed to JSON.parse, which does the real
// validation; this reader only finds the boundaries and reports structural errors with a byte
// offset.

export class JsonStreamError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
    this.name = 'JsonStreamError';
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

type State = 'start' | 'key-or-end' | 'key-after-comma' | 'key' | 'colon' | 'value' | 'in-value' | 'after-value' | 'done';

export interface TopLevelOptions {
  /** Largest single member value, in bytes (default 512 MiB). */
  maxValueBytes?: number;
}

/** Yields the members of the top-level object or array of a JSON byte stream. */
export async function* topLevelMembers(
  source: AsyncIterable<Uint8Array>,
  opts: TopLevelOptions = {},
): AsyncGenerator<[string | number, unknown]> {
  const maxValue = opts.maxValueBytes ?? 512 * 1024 * 1024;
  let state: State = 'start';
  let container: 'object' | 'array' = 'object';
  let offset = 0; // bytes consumed before the current chunk
  let index = 0;
  let key: string | number = 0;
  const keyParts: Buffer[] = [];
  const valueParts: Buffer[] = [];
  let valueBytes = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let valueKind: 'container' | 'string' | 'scalar' = 'scalar';
  let first = true;

  const finishValue = (): [string | number, unknown] => {
    const text = Buffer.concat(valueParts).toString('utf8');
    valueParts.length = 0;
    valueBytes = 0;
    try {
      return [key, JSON.parse(text)];
    } catch (err) {
      throw new JsonStreamError(`invalid JSON in member ${JSON.stringify(key)}: ${(err as Error).message}`, offset);
    }
  };

  for await (const raw of source) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    let i = 0;
    // Skip a UTF-8 byte-order mark at the very start.
    if (first) {
      first = false;
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
    }
    // Start in this chunk of the key/value bytes being collected (0: continued from the last chunk).
    const cur = state as State;
    let segStart = cur === 'key' || cur === 'in-value' ? 0 : -1;
    const out: Array<[string | number, unknown]> = [];
    /** The value ends just before `end` in this chunk: collect it and move past it. */
    const endValue = (end: number) => {
      valueParts.push(chunk.subarray(segStart, end));
      segStart = -1;
      out.push(finishValue());
      index++;
      state = 'after-value';
    };
    for (; i < chunk.length; i++) {
      const c = chunk[i];
      switch (state as State) {
        case 'start':
          if (WS.has(c)) break;
          if (c === LBRACE) {
            container = 'object';
            state = 'key-or-end';
            break;
          }
          if (c === LBRACKET) {
            container = 'array';
            state = 'value';
            break;
          }
          throw new JsonStreamError('expected a JSON object or array', offset + i);
        case 'key-or-end':
          if (WS.has(c)) break;
          if (c === RBRACE && index === 0) {
            state = 'done';
            break;
          }
          if (c === QUOTE) {
            state = 'key';
            segStart = i;
            escaped = false;
            break;
          }
          throw new JsonStreamError('expected a member name', offset + i);
        case 'key':
          if (escaped) {
            escaped = false;
            break;
          }
          if (c === BACKSLASH) {
            escaped = true;
            break;
          }
          if (c === QUOTE) {
            keyParts.push(chunk.subarray(segStart, i + 1));
            segStart = -1;
            try {
              key = JSON.parse(Buffer.concat(keyParts).toString('utf8')) as string;
            } catch {
              throw new JsonStreamError('invalid member name', offset + i);
            }
            keyParts.length = 0;
            state = 'colon';
          }
          break;
        case 'colon':
          if (WS.has(c)) break;
          if (c === COLON) {
            state = 'value';
            break;
          }
          throw new JsonStreamError('expected ":"', offset + i);
        case 'value':
          if (WS.has(c)) break;
          if (container === 'array' && c === RBRACKET && index === 0) {
            state = 'done';
            break;
          }
          if (container === 'array') key = index;
          segStart = i;
          state = 'in-value';
          inString = false;
          escaped = false;
          depth = 0;
          if (c === LBRACE || c === LBRACKET) {
            valueKind = 'container';
            depth = 1;
          } else if (c === QUOTE) {
            valueKind = 'string';
            inString = true;
          } else if (c === COMMA || c === RBRACE || c === RBRACKET || c === COLON)
            throw new JsonStreamError('expected a value', offset + i);
          else valueKind = 'scalar';
          break;
        case 'in-value':
          if (inString) {
            if (escaped) escaped = false;
            else if (c === BACKSLASH) escaped = true;
            else if (c === QUOTE) {
              inString = false;
              if (valueKind === 'string') {
                endValue(i + 1);
              }
            }
            break;
          }
          if (valueKind === 'scalar') {
            if (WS.has(c) || c === COMMA || c === RBRACE || c === RBRACKET) {
              endValue(i);
              i--; // the delimiter belongs to the outer level
            }
            break;
          }
          if (c === QUOTE) inString = true;
          else if (c === LBRACE || c === LBRACKET) depth++;
          else if (c === RBRACE || c === RBRACKET) {
            depth--;
            if (depth === 0) {
              endValue(i + 1);
            }
          }
          break;
        case 'after-value':
          if (WS.has(c)) break;
          if (c === COMMA) {
            state = container === 'object' ? 'key-after-comma' : 'value';
            break;
          }
          if ((container === 'object' && c === RBRACE) || (container === 'array' && c === RBRACKET)) {
            state = 'done';
            break;
          }
          throw new JsonStreamError(`expected "," or "${container === 'object' ? '}' : ']'}"`, offset + i);
        case 'done':
          if (WS.has(c)) break;
          throw new JsonStreamError('unexpected data after the end of the document', offset + i);
        case 'key-after-comma':
          // A member name must follow a comma.
          if (WS.has(c)) break;
          if (c === QUOTE) {
            state = 'key';
            segStart = i;
            escaped = false;
            break;
          }
          throw new JsonStreamError('expected a member name', offset + i);
      }
    }
    if (segStart >= 0) {
      const part = chunk.subarray(segStart);
      if (state === 'key') keyParts.push(Buffer.from(part));
      else {
        // Copy: the caller may reuse the chunk's memory.
        valueParts.push(Buffer.from(part));
        valueBytes += part.length;
        if (valueBytes > maxValue) throw new JsonStreamError(`member ${JSON.stringify(key)} is larger than ${maxValue} bytes`, offset + i);
      }
    }
    offset += chunk.length;
    for (const m of out) yield m;
  }
  const end = state as State;
  if (end === 'in-value' && valueKind === 'scalar' && !inString) {
    // A scalar at the very end can only be valid if the document is a bare scalar, which we refuse.
    throw new JsonStreamError('unexpected end of the document', offset);
  }
  if (end !== 'done') throw new JsonStreamError(end === 'start' ? 'empty document' : 'unexpected end of the document (truncated?)', offset);
}
