//! The request log line: one structured JSON line per request (never a token), and the
//! `Server-Timing` header drawn from the same record.
//!
//! The request path fills a [`LogLine`] through its methods as it goes (the decision,
//! the identity, the key-set outcome), and [`LogLine::finish`] emits it when
//! `edge.log` asks for it.

use serde::Serialize;
use wasm_bindgen::JsValue;
use worker::Method;

use tokengate::KeyOutcome;
use tokengate::Principal;

use crate::settings::{LogLevel, ServerTiming};

/// One structured log line per request; never contains a token.
#[derive(Default)]
pub struct LogLine {
    method: Method,
    path: String,
    route: Option<usize>,
    decision: &'static str,
    status: u16,
    code: Option<&'static str>,
    kind: Option<&'static str>,
    subject: Option<String>,
    client: Option<String>,
    jwks: Option<&'static str>,
    verify_ms: Option<f64>,
    message: Option<String>,
}

/// The JSON form of a [`LogLine`], serialized straight into one string. `status` and
/// `total_ms` come last: [`LogLine::head`] leaves them out, for the origin's answer to
/// complete the line in JS.
#[derive(Serialize)]
struct LogRecord<'a> {
    tokengate: u8,
    method: &'a str,
    path: &'a str,
    route: Option<usize>,
    decision: &'a str,
    code: Option<&'a str>,
    kind: Option<&'a str>,
    subject: Option<&'a str>,
    client: Option<&'a str>,
    jwks: Option<&'a str>,
    verify_ms: Option<f64>,
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_ms: Option<f64>,
}

impl LogLine {
    /// The line of a request, with the decision `error` until another is recorded.
    pub fn new(method: Method, path: String) -> LogLine {
        LogLine {
            method,
            path,
            decision: "error",
            ..LogLine::default()
        }
    }

    /// Records the decision (`allow`, `public`, `metadata`, ...).
    pub fn decided(&mut self, decision: &'static str) {
        self.decision = decision;
    }

    /// Records a refusal or failure: the decision (`deny`, `config_error`, `error`,
    /// `exchange_deny`), its error code and what went wrong.
    pub fn refused(&mut self, decision: &'static str, code: &'static str, message: String) {
        self.decision = decision;
        self.code = Some(code);
        self.message = Some(message);
    }

    /// Records the route rule the request took.
    pub fn route(&mut self, index: Option<usize>) {
        self.route = index;
    }

    /// Records the response status.
    pub fn status(&mut self, status: u16) {
        self.status = status;
    }

    /// Records who a verified token names: its kind and subject, and the client (for
    /// a token exchange, the actor's).
    pub fn identity(&mut self, principal: &Principal, client: Option<String>) {
        self.kind = Some(principal.kind.as_str());
        self.subject = Some(principal.subject.clone());
        self.client = client;
    }

    /// Records where the key set came from; a stale set is noted in the message.
    pub fn keys(&mut self, outcome: KeyOutcome) {
        self.jwks = Some(outcome.as_str());
        if outcome == KeyOutcome::Stale {
            self.message =
                Some("served with a stale key set (identity provider unreachable)".into());
        }
    }

    /// Records the signature check's time (none when no check ran).
    pub fn verify_ms(&mut self, ms: Option<f64>) {
        self.verify_ms = ms;
    }

    /// Sets the message unless one is recorded already.
    pub fn note(&mut self, message: &str) {
        self.message.get_or_insert_with(|| message.to_string());
    }

    /// Whether `level` asks for this line.
    pub fn wanted(&self, level: LogLevel) -> bool {
        match level {
            LogLevel::All => true,
            LogLevel::Off => false,
            LogLevel::Denials => {
                !matches!(
                    self.decision,
                    "allow" | "public" | "preflight" | "metadata" | "demo" | "exchange"
                ) || self.jwks == Some(KeyOutcome::Stale.as_str())
            }
        }
    }

    /// The JSON record, complete when `done` gives the status and the total time.
    fn record(&self, done: Option<(u16, f64)>) -> Option<String> {
        let record = LogRecord {
            tokengate: 1,
            method: self.method.as_ref(),
            path: &self.path,
            route: self.route,
            decision: self.decision,
            code: self.code,
            kind: self.kind,
            subject: self.subject.as_deref(),
            client: self.client.as_deref(),
            jwks: self.jwks,
            verify_ms: self.verify_ms,
            message: self.message.as_deref(),
            status: done.map(|d| d.0),
            total_ms: done.map(|d| d.1),
        };
        serde_json::to_string(&record).ok()
    }

    /// Writes the line to the console when `level` asks for it.
    pub fn finish(&self, total_ms: f64, level: LogLevel) {
        if !self.wanted(level) {
            return;
        }
        if let Some(line) = self.record(Some((self.status, total_ms))) {
            web_sys::console::log_1(&JsValue::from_str(&line));
        }
    }

    /// The line without its closing brace, `status` and `total_ms`, which the origin's
    /// answer supplies ([`host::settle`](crate::host::settle) appends
    /// `,"status":N,"total_ms":T}`).
    pub fn head(&self) -> Option<String> {
        let mut line = self.record(None)?;
        line.pop();
        Some(line)
    }

    /// The `Server-Timing` header value `edge.server_timing` asks for, if any: total
    /// time and decision; with `detail` also the key source and verify time.
    pub fn server_timing(&self, total_ms: f64, level: ServerTiming) -> Option<String> {
        if level == ServerTiming::Off {
            return None;
        }
        let mut t = String::with_capacity(80);
        t.push_str("tokengate;dur=");
        push_ms(&mut t, total_ms);
        t.push_str(";desc=\"");
        t.push_str(self.decision);
        t.push('"');
        if level == ServerTiming::Basic {
            return Some(t);
        }
        if let Some(j) = self.jwks {
            t.push_str(", jwks;desc=\"");
            t.push_str(j);
            t.push('"');
        }
        if let Some(v) = self.verify_ms {
            t.push_str(", verify;dur=");
            push_ms(&mut t, v);
        }
        Some(t)
    }
}

/// Milliseconds with two decimals (as `{:.2}` would print them, without the float
/// formatting machinery).
fn push_ms(out: &mut String, ms: f64) {
    let hundredths = (ms.max(0.0) * 100.0).round() as u64;
    out.push_str(&(hundredths / 100).to_string());
    out.push('.');
    let frac = hundredths % 100;
    if frac < 10 {
        out.push('0');
    }
    out.push_str(&frac.to_string());
}
