// Bodies compared as what they say, not as their compression: a gzip'd JSON body whose request id
// changes differs everywhere after the first changed byte, which would make a whole route noise.
// gzip, deflate and br bodies are decoded (bounded output); a body that was truncated, does not
// decode, or decodes past the bound stays as it came.
import zlib from 'node:zlib';
import type { Answer } from './answer';

/** Decoded bodies larger than this stay encoded (the bound on what one comparison allocates). */
export const MAX_DECODED_BYTES = 8 << 20;

const decoded = new WeakMap<Answer, Answer>();

function contentEncoding(a: Answer): string {
  for (const [n, v] of a.headers) if (n.toLowerCase() === 'content-encoding') return v.trim().toLowerCase();
  return '';
}

function decode(encoding: string, body: Buffer): Buffer | null {
  const opts = { maxOutputLength: MAX_DECODED_BYTES };
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') return zlib.gunzipSync(body, opts);
    if (encoding === 'deflate') {
      // "deflate" is zlib-wrapped by the RFC, raw deflate by some servers.
      try {
        return zlib.inflateSync(body, opts);
      } catch {
        return zlib.inflateRawSync(body, opts);
      }
    }
    if (encoding === 'br') return zlib.brotliDecompressSync(body, opts);
  } catch {
    return null;
  }
  return null;
}

/** The answer with its body decoded from its Content-Encoding, or the answer itself. */
export function decodedAnswer(a: Answer): Answer {
  const cached = decoded.get(a);
  if (cached) return cached;
  let out = a;
  const encoding = contentEncoding(a);
  if (encoding && encoding !== 'identity' && !a.bodyTruncated && a.body.length) {
    const body = decode(encoding, a.body);
    if (body) out = { ...a, body, bodyLength: body.length };
  }
  decoded.set(a, out);
  return out;
}
