//! Small JS helpers for the request path: one call across the wasm boundary each where
//! the Rust side would need a series of calls (one per header or `RequestInit` field,
//! most copying strings between wasm memory and JS), and `fetch` with its synchronous
//! exceptions caught.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
// Which inbound headers are dropped is decided in Rust: `reserved` is the RegExp of
// tokengate::headers::reserved_inbound_pattern (flag i), made once per isolate.
export function tgForwardHeaders(src, dropAuthorization, reserved, set, secretName, secret) {
  const h = new Headers(src);
  h.delete("host");
  // The DPoP proof goes with the token it proves, or not at all.
  if (dropAuthorization) {
    h.delete("authorization");
    h.delete("dpop");
  }
  for (const k of src.keys()) if (reserved.test(k)) h.delete(k);
  const p = set.split("\n");
  for (let i = 0; i + 1 < p.length; i += 2) h.set(p[i], p[i + 1]);
  if (secretName !== undefined) h.set(secretName, secret);
  return h;
}
export function tgForward(service, target, req, method, dropAuthorization, reserved, set, secretName, secret) {
  const headers = tgForwardHeaders(req.headers, dropAuthorization, reserved, set, secretName, secret);
  const init = { method: method ?? req.method, headers, body: req.body, redirect: "manual" };
  return (service ?? globalThis).fetch(target, init);
}
// The origin's answer to an allowed request: `line` (a log line's JSON without its
// status, total time and closing brace; undefined when none is wanted) completed and
// written when the origin answers; a failed fetch becomes onError's response.
export function tgSettle(p, req, line, started, onError) {
  const failed = (e) => onError(e, req, started);
  if (line === undefined) return p.catch(failed);
  return p.then((r) => {
    const ms = Math.round((Date.now() - started) * 100) / 100;
    console.log(line + ',"status":' + r.status + ',"total_ms":' + ms + "}");
    return r;
  }, failed);
}
// A handler waiting for WebCrypto's `verify` promise `p`: its outcome goes back to wasm
// (Waiting.resume consumes `w`, so it runs once), which answers with the response's promise.
export function tgResumeAfter(p, w) {
  return Promise.resolve(p).then((v) => w.resume(true, v), () => w.resume(false, undefined));
}
// Workers KV through the binding itself: `get` as text, `put` with an optional TTL.
export function tgKvGet(ns, key) {
  return ns.get(key, "text");
}
// Several keys at once (revocation entries): one `get` each, together; an array of
// text or null, rejected when any read fails.
export function tgKvGetAll(ns, keys) {
  return Promise.all(keys.map((k) => ns.get(k, "text")));
}
export function tgKvPut(ns, key, value, ttl) {
  return ns.put(key, value, ttl === undefined ? undefined : { expirationTtl: ttl });
}
// request.cf.tlsClientAuth, read only when called (`cf` is costly): undefined when no
// client certificate was presented, "" when one was but not verified, else its SHA-256.
export function tgClientCert(req) {
  const a = req.cf?.tlsClientAuth;
  if (!a || a.certPresented !== "1") return undefined;
  return a.certVerified === "SUCCESS" ? String(a.certFingerprintSHA256 ?? "") : "";
}
// The DPoP replay store: the DpopReplay object of the proof's key records `jti` until
// `exp` (unix seconds); true the first time, false for a replay.
export function tgReplayClaim(ns, jkt, jti, exp) {
  return ns.get(ns.idFromName(jkt))
    .fetch("https://dpop-replay/", { method: "POST", body: exp + "\n" + jti })
    .then((r) => {
      if (r.status === 201) return true;
      if (r.status === 409) return false;
      throw new Error("the DpopReplay object answered " + r.status);
    });
}
// A Workers Rate Limiting binding: `limit({key})` resolves to `{success}`; anything but
// a boolean `success` is a failure (the request is refused, never let through).
export function tgRateLimit(binding, key) {
  return binding.limit({ key }).then((r) => {
    if (typeof r?.success !== "boolean") throw new Error("the rate limiter answered no success flag");
    return r.success;
  });
}
export function tgWithServerTiming(res, value) {
  const out = new Response(res.body, res);
  out.headers.append("server-timing", value);
  return out;
}
"#)]
extern "C" {
    /// The headers for the origin: a copy of `src` without `host`, without the headers
    /// whose names `reserved` matches, and without `authorization` and `dpop` when
    /// `drop_authorization`; then `set`, `name\nvalue\n` pairs (values free of
    /// control characters), and `secret_name: secret`, are set.
    #[wasm_bindgen(js_name = tgForwardHeaders, catch)]
    pub fn forward_headers(
        src: &web_sys::Headers,
        drop_authorization: bool,
        reserved: &js_sys::RegExp,
        set: &str,
        secret_name: Option<&str>,
        secret: Option<&str>,
    ) -> Result<web_sys::Headers, JsValue>;

    /// `fetch(target, {method, headers, body, redirect: "manual"})` through the service
    /// binding `service`, or the global `fetch` when it is `undefined`: `req`'s body,
    /// its method unless `method` is given, and the headers of [`forward_headers`].
    #[wasm_bindgen(js_name = tgForward, catch)]
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        service: &JsValue,
        target: &str,
        req: &web_sys::Request,
        method: Option<&str>,
        drop_authorization: bool,
        reserved: &js_sys::RegExp,
        set: &str,
        secret_name: Option<&str>,
        secret: Option<&str>,
    ) -> Result<js_sys::Promise, JsValue>;

    /// `promise` (the origin's fetch for `req`, started at `started` ms) with, when
    /// `line` is given, the log line completed from the origin's response and written
    /// when it arrives ([`LogLine::head`](crate::log::LogLine::head)), and a rejection
    /// turned into `on_error(error, req, started)`'s response.
    #[wasm_bindgen(js_name = tgSettle)]
    pub fn settle(
        promise: &js_sys::Promise,
        req: &web_sys::Request,
        line: Option<&str>,
        started: f64,
        on_error: &js_sys::Function,
    ) -> js_sys::Promise;

    /// `promise`'s outcome handed to [`Waiting::resume`](crate::Waiting::resume) when it
    /// settles: a promise of the response.
    #[wasm_bindgen(js_name = tgResumeAfter)]
    pub fn resume_after(promise: &JsValue, waiting: crate::Waiting) -> js_sys::Promise;

    /// `ns.get(key, "text")` of a KV namespace binding: a promise of the text or `null`.
    #[wasm_bindgen(js_name = tgKvGet, catch)]
    pub fn kv_get(ns: &JsValue, key: &str) -> Result<js_sys::Promise, JsValue>;

    /// `ns.get(key, "text")` for each of `keys` (strings), together: a promise of the
    /// array of texts or `null`s, in order, rejected when any read fails.
    #[wasm_bindgen(js_name = tgKvGetAll, catch)]
    pub fn kv_get_all(ns: &JsValue, keys: &js_sys::Array) -> Result<js_sys::Promise, JsValue>;

    /// `binding.limit({key})` of a Workers Rate Limiting binding: a promise of its
    /// `success` (`false`: over the limit), rejected when the call fails or answers
    /// no boolean `success`.
    #[wasm_bindgen(js_name = tgRateLimit, catch)]
    pub fn rate_limit(binding: &JsValue, key: &str) -> Result<js_sys::Promise, JsValue>;

    /// `ns.put(key, value, {expirationTtl: ttl})` (no options without `ttl`).
    #[wasm_bindgen(js_name = tgKvPut, catch)]
    pub fn kv_put(
        ns: &JsValue,
        key: &str,
        value: &str,
        ttl: Option<u32>,
    ) -> Result<js_sys::Promise, JsValue>;

    /// `request.cf.tlsClientAuth` of `req`: `None` when no client certificate was
    /// presented, `""` when one was and was not verified, else its
    /// `certFingerprintSHA256` (hex).
    #[wasm_bindgen(js_name = tgClientCert)]
    pub fn client_certificate(req: &web_sys::Request) -> Option<String>;

    /// Claims `jti` for the DPoP key `jkt` until `exp` (unix seconds) in its
    /// [`DpopReplay`](crate::replay::DpopReplay) object of the namespace `ns`: a promise of
    /// `true` the first time, `false` for a replay, rejected when the object fails.
    #[wasm_bindgen(js_name = tgReplayClaim, catch)]
    pub fn replay_claim(
        ns: &JsValue,
        jkt: &str,
        jti: &str,
        exp: f64,
    ) -> Result<js_sys::Promise, JsValue>;

    /// The same response (status, status text, headers, body stream, `webSocket`, `cf`)
    /// with a `Server-Timing` header appended; a fetched response's own headers are
    /// immutable.
    #[wasm_bindgen(js_name = tgWithServerTiming, catch)]
    pub fn with_server_timing(
        res: &web_sys::Response,
        value: &str,
    ) -> Result<web_sys::Response, JsValue>;
}
