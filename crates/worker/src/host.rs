//! Small JS helpers for the request path: one call across the wasm boundary each where
//! the Rust side would need a series of calls (one per header or `RequestInit` field,
//! most copying strings between wasm memory and JS), and `fetch` with its synchronous
//! exceptions caught.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
// Which inbound headers are dropped is decided in Rust (tokengate::headers), from the names
// tgHeaderNames lists; `drop` names them, one per line.
export function tgHeaderNames(h) {
  let out = "";
  for (const k of h.keys()) out += k + "\n";
  return out;
}
export function tgForwardHeaders(src, dropAuthorization, drop, set, secretName, secret) {
  const h = new Headers(src);
  h.delete("host");
  if (dropAuthorization) h.delete("authorization");
  if (drop) for (const k of drop.split("\n")) if (k) h.delete(k);
  const p = set.split("\n");
  for (let i = 0; i + 1 < p.length; i += 2) h.set(p[i], p[i + 1]);
  if (secretName !== undefined) h.set(secretName, secret);
  return h;
}
export function tgForward(service, target, req, method, dropAuthorization, drop, set, secretName, secret) {
  const headers = tgForwardHeaders(req.headers, dropAuthorization, drop, set, secretName, secret);
  const init = { method: method ?? req.method, headers, body: req.body, redirect: "manual" };
  return (service ?? globalThis).fetch(target, init);
}
export function tgWithServerTiming(res, value) {
  const out = new Response(res.body, res);
  out.headers.append("server-timing", value);
  return out;
}
"#)]
extern "C" {
    /// The names of `headers` (lower case, as the runtime keeps them), each followed
    /// by a newline.
    #[wasm_bindgen(js_name = tgHeaderNames, catch)]
    pub fn header_names(headers: &web_sys::Headers) -> Result<String, JsValue>;

    /// The headers for the origin: a copy of `src` without `host`, without the headers
    /// named in `drop` (one per line), and without `authorization` when
    /// `drop_authorization`; then `set`, `name\nvalue\n` pairs (values free of
    /// control characters), and `secret_name: secret`, are set.
    #[wasm_bindgen(js_name = tgForwardHeaders, catch)]
    pub fn forward_headers(
        src: &web_sys::Headers,
        drop_authorization: bool,
        drop: &str,
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
        drop: &str,
        set: &str,
        secret_name: Option<&str>,
        secret: Option<&str>,
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
