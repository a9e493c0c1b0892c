//! Which URLs the core lets an adapter fetch keys (and discovery documents) from, and
//! which it accepts as its own token-exchange issuer: https, or http on a loopback host.
//!
//! A leaf module: [`config`](crate::config), [`keys`](crate::keys) and
//! [`exchange`](crate::exchange) all use it, so it depends on none of them.

/// Checks that a URL we would fetch keys from is https, or http on a loopback host.
pub fn check_fetch_url(url: &str) -> Result<(), String> {
    // What a WHATWG URL parser (fetch) reads differently from the split below is
    // refused: a backslash (a path separator there, so `http://evil.example\.localhost/`
    // would go to evil.example), and whitespace or control characters (removed there).
    if url.contains('\\') {
        return Err(format!("{url:?} contains a backslash"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("{url:?} contains whitespace or control characters"));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an absolute url"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not contain credentials".into());
    }
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (h, after) = v6.split_once(']').unwrap_or((v6, ""));
        if !h
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(format!("{url:?} has an invalid IPv6 host"));
        }
        (h, after)
    } else {
        let i = host_port.find(':').unwrap_or(host_port.len());
        let h = &host_port[..i];
        // Letters, digits, '-', '.' and '_' only: a percent-escape or a non-ASCII name
        // is decoded or mapped by the URL parser into a host this check never saw.
        if !h
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(format!(
                "{url:?} has a host with characters other than letters, digits, '-', '.' and '_' (write an internationalised name in its xn-- form)"
            ));
        }
        (h, &host_port[i..])
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if !port.is_empty()
        && !port
            .strip_prefix(':')
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!("{url:?} has an invalid port"));
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
    fn fetch_urls_that_a_url_parser_reads_otherwise_are_refused() {
        for ok in [
            "https://tenant.auth0.com/.well-known/jwks.json",
            "https://idp.example:8443/jwks?x=1",
            "http://localhost:8080/jwks",
            "http://keys.localhost/jwks",
            "http://127.0.0.2/jwks",
            "http://[::1]:9000/jwks",
        ] {
            assert_eq!(check_fetch_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://evil.example\\x.localhost/jwks",
            "https://evil.example\\@good.example/",
            "http://evil.example%2F.localhost/jwks",
            "http://loc%61lhost/jwks",
            "http://localhost\t/jwks",
            "http://local host/jwks",
            "http://xn--ls8h.localhost:80x/jwks",
            "http://ｌocalhost/jwks",
            "http://[::1%25eth0]/jwks",
            "http://evil.example/jwks",
            "ftp://localhost/jwks",
        ] {
            assert!(check_fetch_url(bad).is_err(), "{bad} must be refused");
        }
    }

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
