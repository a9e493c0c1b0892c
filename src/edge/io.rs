//! The Worker's I/O for the key provider: `fetch` with a timeout, and Workers KV.

use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{AbortController, Delay, Env, Fetch, Url};

use crate::keys::{HttpResponse, KeyIo};

/// The KV binding holding JWKS cache states (and the demo issuer's key).
pub const JWKS_KV: &str = "JWKS_CACHE";

/// Key I/O through the Worker runtime.
#[derive(Clone)]
pub struct EdgeIo {
    /// The Worker's bindings.
    pub env: Env,
    /// Timeout for key and discovery fetches.
    pub timeout_ms: u64,
}

impl KeyIo for EdgeIo {
    async fn fetch(&self, url: &str) -> Result<HttpResponse, String> {
        let url = Url::parse(url).map_err(|e| format!("bad url: {e}"))?;
        let controller = AbortController::default();
        let signal = controller.signal();
        let request = Fetch::Url(url);
        let fetch = Box::pin(request.send_with_signal(&signal));
        let timeout = Box::pin(Delay::from(Duration::from_millis(self.timeout_ms)));
        let mut resp = match select(fetch, timeout).await {
            Either::Left((Ok(resp), _)) => resp,
            Either::Left((Err(e), _)) => return Err(format!("fetch failed: {e}")),
            Either::Right(_) => {
                controller.abort();
                return Err(format!("fetch timed out after {} ms", self.timeout_ms));
            }
        };
        let status = resp.status_code();
        let cache_control = resp.headers().get("cache-control").ok().flatten();
        let age = resp.headers().get("age").ok().flatten();
        let body = match select(
            Box::pin(resp.text()),
            Box::pin(Delay::from(Duration::from_millis(self.timeout_ms))),
        )
        .await
        {
            Either::Left((Ok(body), _)) => body,
            Either::Left((Err(e), _)) => return Err(format!("reading the body failed: {e}")),
            Either::Right(_) => return Err("reading the body timed out".into()),
        };
        Ok(HttpResponse {
            status,
            body,
            cache_control,
            age,
        })
    }

    async fn load(&self, key: &str) -> Option<String> {
        let kv = self.env.kv(JWKS_KV).ok()?;
        kv.get(key).text().await.ok().flatten()
    }

    async fn save(&self, key: &str, value: String, ttl_secs: u64) {
        if let Ok(kv) = self.env.kv(JWKS_KV) {
            if let Ok(put) = kv.put(key, value) {
                // KV's minimum TTL is 60 s.
                let _ = put.expiration_ttl(ttl_secs.max(60)).execute().await;
            }
        }
    }

    fn secret(&self, name: &str) -> Option<String> {
        self.env.secret(name).ok().map(|s| s.to_string())
    }
}
