// A small TOML parser for wrangler files (`tokengate check`): tables and dotted table
// headers (`[env.demo.vars]`), arrays of tables (`[[kv_namespaces]]`), bare, quoted and
// dotted keys, basic "..." strings with escapes, literal '...' strings, multi-line """
// and ''' strings, integers, floats, booleans, dates (kept as their text), arrays
// (over several lines, with comments and a trailing comma) and inline tables, and
// comments. Errors name the line and column. It is not a full TOML validator: it
// refuses what would make it misread a file (duplicate keys, a table defined twice,
// unterminated strings), not every spelling TOML forbids.

/** A parse error at `line`:`column` (1-based). */
export class TomlError extends Error {
  constructor(message, line, column) {
    super(`line ${line}, column ${column}: ${message}`);
    this.line = line;
    this.column = column;
  }
}

const BARE_KEY = /[A-Za-z0-9_-]/;

/** Parses TOML text into plain objects, arrays, strings, numbers and booleans. */
export function parseToml(input) {
  const text = input.replace(/^\uFEFF/, "").replace(/\r\n/g, "\n");
  let pos = 0;
  const root = {};
  /** Tables defined by a [header] (a second header for one is an error). */
  const defined = new WeakSet();
  /** Tables and arrays written inline (`{...}`, `[...]`): closed to headers and dotted keys. */
  const closed = new WeakSet();
  /** Arrays made by [[headers]]. */
  const tableArrays = new WeakSet();
  let current = root;

  const fail = (message, at = pos) => {
    const before = text.slice(0, at);
    const line = before.split("\n").length;
    const column = at - before.lastIndexOf("\n");
    throw new TomlError(message, line, column);
  };
  const peek = (n = 0) => text[pos + n];
  const startsWith = (s) => text.startsWith(s, pos);
  const skipSpaces = () => {
    while (peek() === " " || peek() === "\t") pos++;
  };
  const skipComment = () => {
    if (peek() === "#") while (pos < text.length && peek() !== "\n") pos++;
  };
  /** Spaces, newlines and comments (inside arrays, between statements). */
  const skipBlank = () => {
    for (;;) {
      skipSpaces();
      skipComment();
      if (peek() === "\n") pos++;
      else return;
    }
  };
  /** The end of a statement: spaces, an optional comment, then a newline or the end. */
  const endOfLine = () => {
    skipSpaces();
    skipComment();
    if (pos < text.length && peek() !== "\n") fail(`unexpected ${JSON.stringify(peek())} after the value`);
  };

  const hex = (n) => {
    const digits = text.slice(pos, pos + n);
    if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(digits)) fail(`a \\${n === 4 ? "u" : n === 8 ? "U" : "x"} escape needs ${n} hex digits`);
    pos += n;
    const cp = parseInt(digits, 16);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail("the escape is not a Unicode scalar value", pos - n);
    return String.fromCodePoint(cp);
  };
  const escape = () => {
    const at = pos;
    const c = text[++pos];
    pos++;
    switch (c) {
      case "b": return "\b";
      case "t": return "\t";
      case "n": return "\n";
      case "f": return "\f";
      case "r": return "\r";
      case "e": return "\x1b";
      case '"': return '"';
      case "\\": return "\\";
      case "u": return hex(4);
      case "U": return hex(8);
      case "x": return hex(2);
      default: return fail(`invalid escape \\${c ?? ""}`, at);
    }
  };

  const basicString = () => {
    const start = pos;
    pos++;
    let out = "";
    for (;;) {
      const c = peek();
      if (c === undefined || c === "\n") fail("unterminated string", start);
      if (c === '"') {
        pos++;
        return out;
      }
      if (c === "\\") out += escape();
      else {
        out += c;
        pos++;
      }
    }
  };
  const literalString = () => {
    const start = pos;
    const end = text.indexOf("'", pos + 1);
    const nl = text.indexOf("\n", pos + 1);
    if (end === -1 || (nl !== -1 && nl < end)) fail("unterminated literal string", start);
    pos = end + 1;
    return text.slice(start + 1, end);
  };
  /** The closing run of a multi-line string: up to two quotes before it are content. */
  const closeMultiline = (q) => {
    let n = 0;
    while (peek(n) === q) n++;
    if (n < 3) return null;
    if (n > 5) fail(`too many ${q} in a row`);
    pos += n;
    return q.repeat(n - 3);
  };
  const multilineBasic = () => {
    const start = pos;
    pos += 3;
    if (peek() === "\n") pos++;
    let out = "";
    for (;;) {
      const c = peek();
      if (c === undefined) fail('unterminated """ string', start);
      if (c === '"') {
        const tail = closeMultiline('"');
        if (tail !== null) return out + tail;
        out += c;
        pos++;
      } else if (c === "\\") {
        // A line-ending backslash trims the newline and the whitespace after it.
        let j = pos + 1;
        while (text[j] === " " || text[j] === "\t") j++;
        if (text[j] === "\n") {
          pos = j;
          while (peek() === " " || peek() === "\t" || peek() === "\n") pos++;
        } else out += escape();
      } else {
        out += c;
        pos++;
      }
    }
  };
  const multilineLiteral = () => {
    const start = pos;
    pos += 3;
    if (peek() === "\n") pos++;
    const from = pos;
    const end = text.indexOf("'''", pos);
    if (end === -1) fail("unterminated ''' string", start);
    pos = end;
    return text.slice(from, end) + closeMultiline("'");
  };

  const key = () => {
    const parts = [];
    for (;;) {
      skipSpaces();
      const c = peek();
      if (c === '"') parts.push(basicString());
      else if (c === "'") parts.push(literalString());
      else if (c !== undefined && BARE_KEY.test(c)) {
        const start = pos;
        while (peek() !== undefined && BARE_KEY.test(peek())) pos++;
        parts.push(text.slice(start, pos));
      } else fail(c === undefined || c === "\n" ? "a key is missing" : `unexpected ${JSON.stringify(c)} in a key`);
      // Tables are plain objects: a key that would reach their prototype is refused.
      if (parts[parts.length - 1] === "__proto__") fail("the key __proto__ is not accepted");
      skipSpaces();
      if (peek() !== ".") return parts;
      pos++;
    }
  };

  const scalar = () => {
    const start = pos;
    // Dates and times may hold one space between the date and the time.
    const date = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?/.exec(text.slice(pos));
    if (date) {
      pos += date[0].length;
      return date[0];
    }
    const time = /^\d{2}:\d{2}:\d{2}(?:\.\d+)?/.exec(text.slice(pos));
    if (time) {
      pos += time[0].length;
      return time[0];
    }
    while (pos < text.length && /[0-9A-Za-z_+\-.]/.test(peek())) pos++;
    const word = text.slice(start, pos);
    if (word === "true") return true;
    if (word === "false") return false;
    if (/^[+-]?(inf|nan)$/.test(word)) return word.endsWith("inf") ? (word[0] === "-" ? -Infinity : Infinity) : NaN;
    if (/^0x[0-9A-Fa-f](_?[0-9A-Fa-f])*$/.test(word)) return Number.parseInt(word.slice(2).replace(/_/g, ""), 16);
    if (/^0o[0-7](_?[0-7])*$/.test(word)) return Number.parseInt(word.slice(2).replace(/_/g, ""), 8);
    if (/^0b[01](_?[01])*$/.test(word)) return Number.parseInt(word.slice(2).replace(/_/g, ""), 2);
    if (/^[+-]?(0|[1-9](_?\d)*)$/.test(word)) return Number(word.replace(/_/g, ""));
    if (/^[+-]?(0|[1-9](_?\d)*)(\.\d(_?\d)*)?([eE][+-]?\d(_?\d)*)?$/.test(word)) return Number(word.replace(/_/g, ""));
    if (word === "") fail(peek() === undefined || peek() === "\n" ? "a value is missing" : `unexpected ${JSON.stringify(peek())}`);
    return fail(`invalid value ${JSON.stringify(word)} (strings need quotes)`, start);
  };

  const value = () => {
    const c = peek();
    if (startsWith('"""')) return multilineBasic();
    if (startsWith("'''")) return multilineLiteral();
    if (c === '"') return basicString();
    if (c === "'") return literalString();
    if (c === "[") return array();
    if (c === "{") return inlineTable();
    return scalar();
  };

  const array = () => {
    const start = pos;
    pos++;
    const out = [];
    for (;;) {
      skipBlank();
      if (peek() === undefined) fail("unterminated array", start);
      if (peek() === "]") {
        pos++;
        closed.add(out);
        return out;
      }
      out.push(value());
      skipBlank();
      if (peek() === ",") pos++;
      else if (peek() !== "]") fail(peek() === undefined ? "unterminated array" : `expected , or ] in an array, not ${JSON.stringify(peek())}`);
    }
  };

  const inlineTable = () => {
    const start = pos;
    pos++;
    const out = {};
    skipBlank();
    if (peek() === "}") {
      pos++;
      closed.add(out);
      return out;
    }
    for (;;) {
      skipBlank();
      assign(out, key(), start);
      skipBlank();
      if (peek() === ",") {
        pos++;
        continue;
      }
      if (peek() === "}") {
        pos++;
        closed.add(out);
        return out;
      }
      fail(peek() === undefined ? "unterminated inline table" : `expected , or } in an inline table, not ${JSON.stringify(peek())}`);
    }
  };

  const isTable = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

  /** `keys = value` into `table`: dotted keys make (or extend) tables. */
  const assign = (table, keys, at) => {
    const keyAt = pos;
    skipSpaces();
    if (peek() !== "=") fail(`expected = after the key ${keys.join(".")}`);
    pos++;
    skipSpaces();
    let t = table;
    for (const k of keys.slice(0, -1)) {
      if (!Object.hasOwn(t, k)) t[k] = {};
      else if (!isTable(t[k]) || closed.has(t[k]) || defined.has(t[k])) fail(`key ${k} is already defined as a value`, at ?? keyAt);
      t = t[k];
    }
    const last = keys[keys.length - 1];
    if (Object.hasOwn(t, last)) fail(`duplicate key ${keys.join(".")}`, keyAt);
    t[last] = value();
  };

  /** The table a [header] or [[header]] names. */
  const header = (keys, isArray, at) => {
    let t = root;
    keys.forEach((k, i) => {
      const last = i === keys.length - 1;
      if (last && isArray) {
        if (!Object.hasOwn(t, k)) {
          t[k] = [];
          tableArrays.add(t[k]);
        } else if (!tableArrays.has(t[k])) fail(`[[${keys.join(".")}]]: ${k} is already defined and is not an array of tables`, at);
        const entry = {};
        t[k].push(entry);
        t = entry;
        return;
      }
      if (!Object.hasOwn(t, k)) t[k] = {};
      let next = t[k];
      if (tableArrays.has(next)) next = next[next.length - 1];
      else if (!isTable(next) || closed.has(next)) fail(`[${keys.join(".")}]: ${k} is already defined as a value`, at);
      if (last) {
        if (defined.has(next)) fail(`table [${keys.join(".")}] is defined twice`, at);
        defined.add(next);
      }
      t = next;
    });
    return t;
  };

  for (;;) {
    skipBlank();
    if (pos >= text.length) return root;
    const at = pos;
    if (peek() === "[") {
      const isArray = peek(1) === "[";
      pos += isArray ? 2 : 1;
      const keys = key();
      if (isArray ? !startsWith("]]") : peek() !== "]") fail(`expected ${isArray ? "]]" : "]"} to close the table header`);
      pos += isArray ? 2 : 1;
      endOfLine();
      current = header(keys, isArray, at);
    } else {
      assign(current, key(), at);
      endOfLine();
    }
  }
}
