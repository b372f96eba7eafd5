/**
 * The text literals of pickle protocol 0 (FLOAT, UNICODE, STRING opcodes):
 * Python's float repr, raw-unicode-escape, and Python 2 str repr.
 */

export function parsePyFloat(text: string, fail: (t: string) => Error): number {
  const t = text.trim().toLowerCase();
  if (t === 'inf' || t === '+inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (t === 'nan' || t === '-nan' || t === '+nan') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) throw fail(text);
  return Number(t);
}

/** Decodes Python's `raw-unicode-escape` (protocol 0 UNICODE): latin-1 plus \uXXXX and \UXXXXXXXX. */
export function decodeRawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u4: string | undefined, u8: string | undefined) =>
    String.fromCodePoint(parseInt((u4 ?? u8)!, 16)),
  );
}

/** Decodes a Python 2 `repr(str)` literal (protocol 0 STRING) into its bytes. */
export function decodePyStringLiteral(text: string, fail: (t: string) => Error): Uint8Array {
  const q = text[0];
  if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q) throw fail(text);
  const body = text.slice(1, -1);
  const out: number[] = [];
  const simple: Record<string, number> = { n: 10, r: 13, t: 9, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11 };
  for (let i = 0; i < body.length; i++) {
    const ch = body.charCodeAt(i);
    if (ch !== 0x5c) {
      out.push(ch & 0xff);
      continue;
    }
    const next = body[++i];
    if (next === undefined) throw fail(text);
    if (next === 'x') {
      const hex = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw fail(text);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (next >= '0' && next <= '7') {
      const oct = /^[0-7]{1,3}/.exec(body.slice(i))![0];
      out.push(parseInt(oct, 8) & 0xff);
      i += oct.length - 1;
    } else if (next in simple) {
      out.push(simple[next]!);
    } else {
      out.push(0x5c, next.charCodeAt(0) & 0xff);
    }
  }
  return Uint8Array.from(out);
}
