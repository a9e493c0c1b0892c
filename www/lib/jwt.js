// Lenient token reading for display. tokengate's strict parser (decode() in the
// wasm) decides what the verifier would accept; this module only shows what is
// there, even when the strict parser refuses it (alg none, crit, padding, ...).

/**
 * Cleans pasted text into a compact token: removes an `Authorization:` name, a
 * `Bearer` scheme, surrounding quotes and all whitespace. Returns the token and
 * what was removed (for a status line).
 */
export function cleanInput(raw) {
  const notes = [];
  let s = String(raw ?? "").trim();
  const header = /^authorization\s*:\s*/i;
  if (header.test(s)) {
    s = s.replace(header, "");
    notes.push("the Authorization: header name");
  }
  const bearer = /^bearer\s+/i;
  if (bearer.test(s)) {
    s = s.replace(bearer, "");
    notes.push("the Bearer scheme");
  }
  const quoted = /^(["'`])([\s\S]*)\1$/;
  const q = s.match(quoted);
  if (q) {
    s = q[2];
    notes.push("quotes");
  }
  if (/\s/.test(s)) {
    s = s.replace(/\s+/g, "");
    notes.push("whitespace");
  }
  return { token: s, notes };
}

/** Decodes base64url (lenient: padding and standard alphabet tolerated). */
export function b64urlBytes(part) {
  if (typeof part !== "string") return null;
  const s = part.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]*$/.test(s) || s.length % 4 === 1) return null;
  try {
    const bin = atob(s + "===".slice((s.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

export function b64urlEncode(bytes) {
  let bin = "";
  const arr = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  for (let i = 0; i < arr.length; i++) bin += String.fromCharCode(arr[i]);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64urlEncodeJson(value) {
  return b64urlEncode(new TextEncoder().encode(JSON.stringify(value)));
}

function decodeJsonPart(part, name) {
  const bytes = b64urlBytes(part);
  if (!bytes) return { error: `the ${name} is not base64url` };
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { error: `the ${name} is not UTF-8 text` };
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return { text, error: `the ${name} is not JSON` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { text, value, error: `the ${name} is JSON but not an object` };
  }
  return { text, value };
}

/**
 * Splits and decodes a compact JWS without any checks beyond "can it be shown".
 * Returns { ok, header, payload, parts, signatureLength, error }.
 */
export function lenientDecode(token) {
  if (!token) return { ok: false, error: "empty" };
  const parts = token.split(".");
  if (parts.length === 5) {
    return {
      ok: false,
      parts,
      error:
        "this is a JWE (five parts, encrypted): its claims can only be read with the decryption key. Access tokens that APIs verify are signed JWS (three parts).",
    };
  }
  if (parts.length !== 3) {
    return {
      ok: false,
      parts,
      error: `a JWT has three parts separated by dots; this has ${parts.length}.`,
    };
  }
  const h = decodeJsonPart(parts[0], "header");
  const p = decodeJsonPart(parts[1], "payload");
  if (h.error || p.error) {
    return { ok: false, parts, error: h.error || p.error, header: h.value, payloadText: p.text };
  }
  const sig = b64urlBytes(parts[2]);
  return {
    ok: true,
    parts,
    header: h.value,
    payload: p.value,
    signatureLength: sig ? sig.length : null,
  };
}
