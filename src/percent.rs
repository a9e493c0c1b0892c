//! Percent-decoding shared by the path rules ([`crate::policy`]), the `_method` query
//! check ([`crate::headers`]) and the token-exchange form ([`crate::exchange`]).

/// The value of one hexadecimal digit.
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` name or value (a query-string
/// component too): `+` is a space and `%XX` a byte. A `%` not followed by two hex
/// digits makes it `None` when `strict`, and otherwise stays as it is.
pub(crate) fn decode_form(s: &[u8], strict: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = s.get(i + 1).copied().and_then(hex_value);
                let lo = s.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 3;
                        continue;
                    }
                    _ if strict => return None,
                    _ => out.push(b'%'),
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(decode_form(b"a+b%20c%2Bd", true).unwrap(), b"a b c+d");
        assert_eq!(decode_form(b"%c3%A9", true).unwrap(), "\u{e9}".as_bytes());
        for bad in [&b"%"[..], b"%4", b"%zz", b"a%g1"] {
            assert_eq!(decode_form(bad, true), None, "{bad:?}");
            assert_eq!(decode_form(bad, false).unwrap(), bad, "{bad:?}");
        }
        assert_eq!(hex_value(b'f'), Some(15));
        assert_eq!(hex_value(b'G'), None);
    }
}
