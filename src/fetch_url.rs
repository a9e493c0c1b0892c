//! Which URLs the core lets an adapter fetch keys (and discovery documents) from, and
//! which it accepts as its own token-exchange issuer: https, or http on a loopback host.
//!
//! A leaf module: [`config`](crate::config), [`keys`](crate::keys) and
//! [`exchange`](crate::exchange) all use it, so it depends on none of them.

/// Checks that a URL we would fetch keys from is https, or http on a loopback host.
pub fn check_fetch_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an absolute url"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not contain credentials".into());
    }
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => Err("must be https (http is allowed only for loopback hosts)".into()),
        _ => Err(format!("scheme {scheme:?} is not allowed")),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_http_is_allowed() {
        assert!(check_fetch_url("http://127.0.0.1:8787/jwks").is_ok());
        assert!(check_fetch_url("http://localhost/jwks").is_ok());
        assert!(check_fetch_url("http://[::1]:80/jwks").is_ok());
        assert!(check_fetch_url("http://example.com/jwks").is_err());
        assert!(check_fetch_url("http://127.0.0.1@example.com/jwks").is_err());
        assert!(check_fetch_url("https://example.com/jwks").is_ok());
        assert!(check_fetch_url("file:///etc/passwd").is_err());
    }
}
