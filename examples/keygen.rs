//! Generates the edge's token-exchange signing keys (the `TOKENGATE_SIGNING_KEYS`
//! secret) from the system random source.
//!
//! ```text
//! cargo run -q --example keygen > keys.json                 # a new key set (ES256)
//! cargo run -q --example keygen -- EdDSA > keys.json        # an Ed25519 key instead
//! cargo run -q --example keygen -- ES256 keys.json > new.json   # rotate: new key first,
//!                                                            # the old current key kept
//! npx wrangler secret put TOKENGATE_SIGNING_KEYS < keys.json
//! ```
//!
//! The first key signs; every listed key is published in `/.well-known/jwks.json`, so
//! tokens signed by the previous key keep verifying until it is dropped from the set.

use std::process::ExitCode;

use serde_json::{json, Value};
use tokengate::Alg;
use tokengate::SigningKey;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let alg = match args.first().map(String::as_str) {
        None | Some("ES256") => Alg::ES256,
        Some("EdDSA") => Alg::EdDSA,
        Some(other) => {
            eprintln!("keygen: unsupported algorithm {other:?} (use ES256 or EdDSA)");
            return ExitCode::from(2);
        }
    };
    let mut keys = match SigningKey::generate(alg) {
        Ok(k) => vec![k.private_jwk()],
        Err(e) => {
            eprintln!("keygen: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = args.get(1) {
        let previous = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()));
        match previous.as_ref().ok().and_then(|v| v["keys"].as_array()) {
            Some(old) => keys.extend(old.iter().take(1).cloned()),
            None => {
                let why = previous.err().unwrap_or_else(|| "no \"keys\" array".into());
                eprintln!("keygen: {path} is not a key set ({why})");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{}", json!({ "keys": keys }));
    ExitCode::SUCCESS
}
