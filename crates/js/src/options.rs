//! The option schema of the JS API: the options of `createVerifier`, `authorize`'s
//! requirement and `decode`, as serde structs whose field names are the JS names
//! (`rename_all = "camelCase"` of the core's snake_case names, with an explicit
//! `rename` where the JS name is not mechanical, e.g. `leeway` is `clockTolerance`).
//!
//! Each struct is declared with the `schema!` macro, which also records, per field, the core
//! configuration path it sets (by default the Rust field name; given with `=> "..."`
//! where the field lands elsewhere, e.g. `fetchTimeout` is `jwks_cache.fetch_timeout_ms`).
//! That one declaration gives:
//!
//! * the accepted names (serde's `deny_unknown_fields`), listed by [`field_names`] for
//!   the "did you mean" hint and for the test that keeps `npm/index.d.ts` in step;
//! * the JS path of a type error, from serde (`serde_path_to_error`), e.g.
//!   `issuers[1].jwksUri`;
//! * the JS path of an error of the core's validation (which names core fields), by
//!   [`js_path`] through the recorded core paths.
//!
//! A new option is a field of the struct of its level, named as its core
//! configuration key: its JS name is then the camelCase of that key (the rule for new
//! options), its core path needs no `=>`, and `npm/index.d.ts` must declare it (a
//! test compares the interfaces with the schema).
//!
//! The leaf types ([`Text`], [`Count`], [`List`], ...) check values the way the
//! messages say (`must be a string, got a number`), so a bad option throws
//! `tokengate: invalid option "issuers[1].jwksUri": ...`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use wasm_bindgen::JsValue;

use tokengate::Alg;
use tokengate::ConfigError;
use tokengate::JwksCacheConfig;
use tokengate::KeySet;
use tokengate::{b64_decode, DEFAULT_MAX_TOKEN_BYTES};
use tokengate::{ClaimRule, ClaimRules, Delegation, Requirement};
use tokengate::{ClassifyConfig, ClassifyRule, Kind, ScopeSource};
use tokengate::{Config, IssuerConfig};
use tokengate::{DpopConfig, DpopMode, ResourceMetadataConfig};
use tokengate::{RevocationConfig, DEFAULT_REVOCATION_CACHE_SECONDS};

// ---------------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------------

/// An invalid option: what kind of input (`option` or `requirement`), its JS path and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    /// `"option"` or `"requirement"`.
    pub what: &'static str,
    /// The JS path, e.g. `issuers[1].jwksUri`; empty for the whole input.
    pub option: String,
    /// What is wrong.
    pub why: String,
}

impl OptionError {
    /// An invalid option at `option`.
    pub fn new(option: impl Into<String>, why: impl Into<String>) -> Self {
        OptionError {
            what: "option",
            option: option.into(),
            why: why.into(),
        }
    }

    /// The same error, about a requirement.
    fn requirement(mut self) -> Self {
        self.what = "requirement";
        self
    }

    /// The message of the `TypeError`.
    pub fn message(&self) -> String {
        if self.option.is_empty() {
            format!("tokengate: invalid {}s: {}", self.what, self.why)
        } else {
            format!(
                "tokengate: invalid {} \"{}\": {}",
                self.what, self.option, self.why
            )
        }
    }

    /// The error as a JS `TypeError`.
    pub fn to_js(&self) -> JsValue {
        js_sys::TypeError::new(&self.message()).into()
    }
}

/// The result of checking options.
pub type OptResult<T> = Result<T, OptionError>;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// "did you mean" for an unknown name among `known`.
fn unknown(at: &str, known: &[&str]) -> OptionError {
    let leaf = at.rsplit('.').next().unwrap_or(at);
    // The same name in another case (or in snake_case: `scopes_supported` for
    // `scopesSupported`) first, then one with or without a plural `s`.
    let fold = |s: &str| s.to_ascii_lowercase().replace('_', "");
    let lower = fold(leaf);
    let hint = known
        .iter()
        .find(|k| fold(k) == lower)
        .or_else(|| {
            known
                .iter()
                .find(|k| fold(k).trim_end_matches('s') == lower.trim_end_matches('s'))
        })
        .map(|k| format!(" (did you mean \"{k}\"?)"))
        .unwrap_or_default();
    OptionError::new(at, format!("is not a known option{hint}"))
}

/// Deserializes a schema struct from JSON, with the JS path of the first error.
/// `extra` are names accepted next to `T`'s at the top level (for the hint).
fn parse<T: DeserializeOwned>(v: Value, extra: &[&str]) -> OptResult<T> {
    serde_path_to_error::deserialize::<_, T>(v).map_err(|e| {
        let mut path = e.path().to_string();
        if path == "." {
            path.clear();
        }
        let why = e.into_inner().to_string();
        // serde's message for `deny_unknown_fields`:
        // "unknown field `x`, expected one of `a`, `b`" (or "expected `a`").
        if let Some(rest) = why.strip_prefix("unknown field `") {
            let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
            let mut known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            known.splice(0..0, extra.iter().copied());
            // The path names the field itself, or (depending on where serde stopped)
            // only the object that holds it.
            let at = if path == field || path.ends_with(&format!(".{field}")) {
                path
            } else if path.is_empty() {
                field.to_string()
            } else {
                format!("{path}.{field}")
            };
            return unknown(&at, &known);
        }
        let why = why.split(" at line").next().unwrap_or(&why).to_string();
        OptionError::new(path, why)
    })
}

// ---------------------------------------------------------------------------------
// Leaf types: a value checked as the messages say.
// ---------------------------------------------------------------------------------

/// The JS type of an unexpected value seen by a visitor.
fn wrong<E: de::Error>(want: &str, got: &str) -> E {
    E::custom(format!("must be {want}, got {got}"))
}

/// A visitor's methods for the value types it refuses, as `must be <want>, got ...`.
macro_rules! refuse {
    (bool) => {
        fn visit_bool<Er: de::Error>(self, _: bool) -> Result<Self::Value, Er> {
            Err(wrong(&self.want(), "a boolean"))
        }
    };
    (number) => {
        fn visit_i64<Er: de::Error>(self, _: i64) -> Result<Self::Value, Er> {
            Err(wrong(&self.want(), "a number"))
        }
        fn visit_u64<Er: de::Error>(self, _: u64) -> Result<Self::Value, Er> {
            Err(wrong(&self.want(), "a number"))
        }
        fn visit_f64<Er: de::Error>(self, _: f64) -> Result<Self::Value, Er> {
            Err(wrong(&self.want(), "a number"))
        }
    };
    (unit) => {
        fn visit_unit<Er: de::Error>(self) -> Result<Self::Value, Er> {
            Err(wrong(&self.want(), "null"))
        }
    };
    (str) => {
        fn visit_str<Er: de::Error>(self, _: &str) -> Result<Self::Value, Er> {
            Err(wrong(&self.want(), "a string"))
        }
    };
    (seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(wrong(&self.want(), "an array"))
        }
    };
    (map) => {
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(wrong(&self.want(), "an object"))
        }
    };
}

/// Defines a leaf type read through a JSON value and a check.
macro_rules! leaf {
    ($(#[$attr:meta])* $name:ident($inner:ty), |$v:ident| $check:expr) => {
        $(#[$attr])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name(pub $inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let $v = Value::deserialize(d)?;
                let checked: Result<$inner, String> = $check;
                checked.map($name).map_err(de::Error::custom)
            }
        }

        impl Node for $name {}
    };
}

fn non_empty_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::String(_) => Err("must not be empty".into()),
        other => Err(format!("must be a string, got {}", type_name(other))),
    }
}

leaf!(
    /// A non-empty string.
    Text(String),
    |v| non_empty_string(&v)
);

leaf!(
    /// A string, possibly empty.
    AnyText(String),
    |v| match v {
        Value::String(s) => Ok(s),
        other => Err(format!("must be a string, got {}", type_name(&other))),
    }
);

leaf!(
    /// A boolean.
    Flag(bool),
    |v| v
        .as_bool()
        .ok_or_else(|| format!("must be a boolean, got {}", type_name(&v)))
);

leaf!(
    /// A non-negative finite number of whole units (fractions are rounded down).
    Count(u64),
    |v| match v.as_f64() {
        None => Err(format!("must be a number, got {}", type_name(&v))),
        Some(f) if !f.is_finite() || f < 0.0 => Err("must be a non-negative number".into()),
        Some(f) if f > 9_007_199_254_740_991.0 => Err("is too large".into()),
        Some(f) => Ok(f.floor() as u64),
    }
);

leaf!(
    /// An inline JWKS: an object (its keys are checked by the core).
    JwksValue(Value),
    |v| match v {
        Value::Object(_) => Ok(v),
        other => Err(format!("must be an object, got {}", type_name(&other))),
    }
);

leaf!(
    /// Any JSON value (a claim rule's `equals`, an element of `anyOf` / `includes`).
    Json(Value),
    |v| Ok(v)
);

leaf!(
    /// A `delegation` requirement: `"required"` or `"forbidden"`.
    DelegationName(Delegation),
    |v| non_empty_string(&v).and_then(|s| {
        serde_json::from_value::<Delegation>(Value::String(s))
            .map_err(|_| "must be \"required\" or \"forbidden\"".to_string())
    })
);

/// A name from one of the core's enums (an algorithm, a classification rule, a scope
/// claim, a kind), with the core's message for an unknown one.
#[derive(Debug, Clone, PartialEq)]
pub struct Name<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Name<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let name = non_empty_string(&v).map_err(de::Error::custom)?;
        serde_json::from_value::<T>(Value::String(name))
            .map(Name)
            .map_err(|e| {
                let why = e.to_string();
                de::Error::custom(why.split(" at line").next().unwrap_or(&why))
            })
    }
}

impl<T> Node for Name<T> {}

/// What a [`List`] holds, for its messages.
pub trait Element {
    /// The list's type in messages.
    const ARRAY_OF: &'static str = "an array of strings";
    /// The message for an empty list, where one is refused.
    const EMPTY: &'static str = "must not be an empty array";
}
impl Element for Text {}
impl Element for Json {
    const ARRAY_OF: &'static str = "an array";
}
impl<T> Element for Name<T> {}
impl<T> Element for Entry<T> {
    const ARRAY_OF: &'static str = "an array";
    const EMPTY: &'static str = "must not be empty";
}

/// A list. With `SINGLE`, one string stands for a list of it; with `EMPTY`, `[]` is
/// accepted. Errors in an element name it (`algorithms[1]`).
#[derive(Debug, Clone, PartialEq)]
pub struct List<T, const SINGLE: bool = false, const EMPTY: bool = false>(pub Vec<T>);

impl<T, const S: bool, const EMPTY: bool> List<T, S, EMPTY> {
    fn map<U>(self, f: impl FnMut(T) -> U) -> Vec<U> {
        self.0.into_iter().map(f).collect()
    }
}

impl<T: Node, const S: bool, const EMPTY: bool> Node for List<T, S, EMPTY> {
    const CHILD: Option<FieldsFn> = T::CHILD;
}

struct ListVisitor<T, const S: bool, const EMPTY: bool>(PhantomData<T>);

impl<T: Element, const S: bool, const EMPTY: bool> ListVisitor<T, S, EMPTY> {
    fn want(&self) -> String {
        if S {
            format!("a string or {}", T::ARRAY_OF)
        } else {
            T::ARRAY_OF.to_string()
        }
    }
}

impl<'de, T: Deserialize<'de> + Element, const S: bool, const EMPTY: bool> Visitor<'de>
    for ListVisitor<T, S, EMPTY>
{
    type Value = List<T, S, EMPTY>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.want())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<T>()? {
            out.push(item);
        }
        if out.is_empty() && !EMPTY {
            return Err(de::Error::custom(T::EMPTY));
        }
        Ok(List(out))
    }

    fn visit_str<Er: de::Error>(self, s: &str) -> Result<Self::Value, Er> {
        if !S {
            return Err(wrong(&self.want(), "a string"));
        }
        T::deserialize(de::value::StrDeserializer::<Er>::new(s)).map(|t| List(vec![t]))
    }

    fn visit_string<Er: de::Error>(self, s: String) -> Result<Self::Value, Er> {
        self.visit_str(&s)
    }

    refuse!(bool);
    refuse!(number);
    refuse!(unit);
    refuse!(map);
}

impl<'de, T: Deserialize<'de> + Element, const S: bool, const EMPTY: bool> Deserialize<'de>
    for List<T, S, EMPTY>
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor::<T, S, EMPTY>(PhantomData))
    }
}

/// A nested options object (`classify`, `jwksCache`, an `issuers[]` entry): `must be
/// an object, got ...` for anything else; errors inside name their path.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entry<T>(pub T);

impl<T: Node> Node for Entry<T> {
    const CHILD: Option<FieldsFn> = T::CHILD;
}

struct EntryVisitor<T>(PhantomData<T>);

impl<T> EntryVisitor<T> {
    fn want(&self) -> String {
        "an object".into()
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for EntryVisitor<T> {
    type Value = Entry<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Entry)
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        self.visit_str(&s)
    }

    refuse!(bool);
    refuse!(number);
    refuse!(unit);
    refuse!(str);
    refuse!(seq);
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entry<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EntryVisitor(PhantomData))
    }
}

/// A requirement's `claims`: an object of claim name (or JSON pointer) to its rule;
/// errors inside name their path (`claims.org_id.anyOf`).
#[derive(Debug, Clone, Default)]
pub struct ClaimRulesOption(pub BTreeMap<String, ClaimRuleOptions>);

impl Node for ClaimRulesOption {}

struct ClaimRulesVisitor;

impl ClaimRulesVisitor {
    fn want(&self) -> String {
        "an object of claim names to rules".into()
    }
}

impl<'de> Visitor<'de> for ClaimRulesVisitor {
    type Value = ClaimRulesOption;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.want())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let Entry(rule) = map.next_value::<Entry<ClaimRuleOptions>>()?;
            out.insert(name, rule);
        }
        Ok(ClaimRulesOption(out))
    }

    refuse!(bool);
    refuse!(number);
    refuse!(unit);
    refuse!(str);
    refuse!(seq);
}

impl<'de> Deserialize<'de> for ClaimRulesOption {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ClaimRulesVisitor)
    }
}

// ---------------------------------------------------------------------------------
// The schema machinery.
// ---------------------------------------------------------------------------------

/// One field of a schema struct: its JS name (from serde), the core configuration
/// path it sets (empty: read by the bindings themselves) and, for a nested object, the
/// fields of that object.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The JS name, e.g. `clockTolerance`.
    pub js: &'static str,
    /// The core path relative to the struct's own, e.g. `leeway`.
    pub core: &'static str,
    /// The nested schema's fields.
    pub child: Option<FieldsFn>,
}

/// The fields of a schema struct.
pub type FieldsFn = fn() -> Vec<Field>;

/// A type that may appear in a schema; [`Node::CHILD`] is set for nested schemas.
pub trait Node {
    /// The fields of the nested schema, if this is one.
    const CHILD: Option<FieldsFn> = None;
}

impl Node for IgnoredAny {}

/// A schema struct: its fields in declaration order.
pub trait Schema: DeserializeOwned {
    /// The fields, in declaration order.
    fn fields() -> Vec<Field>;
}

/// The names serde accepts for `T` (a struct), in declaration order, taken from the
/// derive itself: `T` is asked to deserialize from a deserializer that only records
/// the field list it is handed.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    match T::deserialize(FieldCapture) {
        Err(Captured(Some(fields))) => fields,
        _ => &[],
    }
}

struct FieldCapture;

#[derive(Debug)]
struct Captured(Option<&'static [&'static str]>);

impl fmt::Display for Captured {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("field names captured")
    }
}

impl std::error::Error for Captured {}

impl de::Error for Captured {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Captured(None)
    }
}

impl<'de> Deserializer<'de> for FieldCapture {
    type Error = Captured;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Captured> {
        Err(Captured(None))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Captured> {
        Err(Captured(Some(fields)))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// The core path of a field: the Rust field name unless given.
macro_rules! core_path {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident $core:literal) => {
        $core
    };
}

/// Declares a schema struct: every field optional (`null` is absent), unknown names
/// refused, JS names camelCase (or `#[serde(rename)]`), and `=> "core.path"` where
/// the field does not set the core field of its own name.
macro_rules! schema {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $(
                $(#[$fattr:meta])*
                $field:ident: $ty:ty $(=> $core:literal)?
            ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$fattr])*
                pub $field: Option<$ty>,
            )*
        }

        impl Schema for $name {
            fn fields() -> Vec<Field> {
                let cores: &[(&'static str, Option<FieldsFn>)] =
                    &[$((core_path!($field $($core)?), <$ty as Node>::CHILD)),*];
                let names = field_names::<$name>();
                debug_assert_eq!(names.len(), cores.len());
                names
                    .iter()
                    .zip(cores)
                    .map(|(js, (core, child))| Field { js, core, child: *child })
                    .collect()
            }
        }

        impl Node for $name {
            const CHILD: Option<FieldsFn> = Some(<$name as Schema>::fields);
        }
    };
}

/// The JS path of a core configuration path, through a schema's fields: the longest
/// field whose core path is `core` or a prefix of it (followed by `.` or `[`); the
/// rest goes through the nested schema. A path no field sets is returned as it is.
pub fn js_path(fields: &[Field], core: &str) -> String {
    let mut best: Option<(&Field, &str)> = None;
    for f in fields.iter().filter(|f| !f.core.is_empty()) {
        let Some(rest) = core.strip_prefix(f.core) else {
            continue;
        };
        if (rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
            && best.is_none_or(|(b, _)| b.core.len() < f.core.len())
        {
            best = Some((f, rest));
        }
    }
    let Some((field, mut rest)) = best else {
        return core.to_string();
    };
    let mut out = field.js.to_string();
    // An index: `issuers[1]`.
    if rest.starts_with('[') {
        let end = rest.find(']').map_or(rest.len(), |i| i + 1);
        out.push_str(&rest[..end]);
        rest = &rest[end..];
    }
    if let Some(inner) = rest.strip_prefix('.') {
        out.push('.');
        match field.child {
            Some(child) => out.push_str(&js_path(&child(), inner)),
            None => out.push_str(inner),
        }
    } else {
        out.push_str(rest);
    }
    out
}

// ---------------------------------------------------------------------------------
// The schema (`npm/index.d.ts` has the same interfaces; see the tests).
// ---------------------------------------------------------------------------------

schema! {
    /// `IssuerOptions`: the options of one issuer, at the top level (one issuer) or in
    /// each `issuers[]` entry. `audience`, `algorithms`, `requiredTyp`,
    /// `requiredClaims`, `maxTokenAge` and `requireExp` at the top level are defaults
    /// for every entry of `issuers`.
    pub struct IssuerOptions {
        /// `issuer`: the exact `iss` value (required).
        issuer: Text,
        /// `audience`: the accepted audience(s) (required).
        #[serde(rename = "audience")]
        audiences: List<Text, true>,
        /// `jwksUri`: where the JWKS is (default: OIDC discovery).
        jwks_uri: Text,
        /// `jwks`: an inline JWKS.
        jwks: JwksValue,
        /// `secret`: a shared HMAC key, base64url (its value is kept by the bindings;
        /// the core names it in `shared_secret`).
        #[serde(rename = "secret")]
        shared_secret: Text,
        /// `algorithms`: the allowed algorithms.
        algorithms: List<Name<Alg>>,
        /// `requiredTyp`: the required `typ` header.
        required_typ: Text,
        /// `requiredClaims`: claims that must be present.
        required_claims: List<Text>,
        /// `maxTokenAge`: the maximum age from `iat`, in seconds.
        #[serde(rename = "maxTokenAge")]
        max_age: Count,
        /// `requireExp`: whether `exp` is required (default true).
        require_exp: Flag,
        /// `dpop`: `"allowed"` (default: bearer and DPoP-bound tokens) or `"required"`
        /// (DPoP-bound tokens only).
        dpop: Name<DpopMode>,
    }
}

schema! {
    /// `CommonOptions` (and `issuers`): the options of `createVerifier` that are not
    /// about one issuer. With [`IssuerOptions`], all the top-level options.
    pub struct CommonOptions {
        /// `issuers`: several issuers (instead of the top-level issuer options).
        issuers: List<Entry<IssuerOptions>>,
        /// `clockTolerance`: the clock skew tolerance in seconds.
        #[serde(rename = "clockTolerance")]
        leeway: Count,
        /// `classify`: the classification options.
        classify: Entry<ClassifyOptions>,
        /// `scopeClaims`: the claims scopes are merged from.
        scope_claims: List<Name<ScopeSource>, false, true> => "classify.scope_claims",
        /// `maxTokenBytes`: the size cap of a token.
        max_token_bytes: Count,
        /// `realm`: the realm of `WWW-Authenticate` challenges.
        realm: AnyText,
        /// `wildcardScopes`: whether `read:*` satisfies `read:builds`.
        wildcard_scopes: Flag,
        /// `tokenCacheSize`: the entries kept of verified tokens.
        token_cache_size: Count,
        /// `jwksCache`: the JWKS cache policy.
        jwks_cache: Entry<JwksCacheOptions>,
        /// `fetchTimeout`: the timeout of JWKS and discovery fetches, in ms.
        #[serde(rename = "fetchTimeout")]
        fetch_timeout_ms: Count => "jwks_cache.fetch_timeout_ms",
        /// `currentDate`: the clock (a function, read by the bindings).
        current_date: IgnoredAny => "",
        /// `cache`: the shared key-value store (an object, read by the bindings).
        cache: IgnoredAny => "",
        /// `signatureBackend`: which code checks signatures (read by the bindings).
        signature_backend: IgnoredAny => "",
        /// `dpopProofs`: how DPoP proofs are checked (the core's `dpop` section; not
        /// `dpop`, which names an issuer's mode at the same level).
        #[serde(rename = "dpopProofs")]
        dpop: Entry<DpopOptions>,
        /// `dpopNonceSecret`: the nonce key, the core's secret
        /// `TOKENGATE_DPOP_NONCE_SECRET` (a string, read by the bindings).
        dpop_nonce_secret: IgnoredAny => "",
        /// `replayStore`: where the `jti` of DPoP proofs are remembered (an object,
        /// read by the bindings).
        replay_store: IgnoredAny => "",
        /// `resourceMetadata`: the RFC 9728 protected-resource metadata.
        resource_metadata: Entry<ResourceMetadataOptions>,
        /// `revocation`: checking every token against a revocation store (the core's
        /// `revocation` section, with the store read by the bindings).
        revocation: Entry<RevocationOptions>,
    }
}

schema! {
    /// `DpopOptions`: how DPoP proofs are checked (the core's `dpop` section).
    pub struct DpopOptions {
        /// `proofMaxAge`: how old a proof may be, from its `iat`, in seconds.
        proof_max_age: Count,
        /// `nonce`: whether proofs must carry a nonce the verifier issued.
        nonce: Flag,
        /// `publicBaseUrl`: the scheme and authority clients use, for `htu`.
        public_base_url: Text,
        /// `algorithms`: the algorithms a proof may use.
        algorithms: List<Name<Alg>>,
    }
}

schema! {
    /// `RevocationOptions`: the core's `revocation` section, and the store entries are
    /// read from.
    pub struct RevocationOptions {
        /// `store`: an object with `get(key)` (read by the bindings).
        store: IgnoredAny => "",
        /// `cacheSeconds`: how long an answer of the store is kept (default 10, at
        /// most 300).
        cache_seconds: Count,
    }
}

schema! {
    /// `ResourceMetadataOptions`: the RFC 9728 document (the core's
    /// `resource_metadata` section, its members in camelCase).
    pub struct ResourceMetadataOptions {
        /// `resource`: the resource identifier (required).
        resource: Text,
        /// `authorizationServers`: default: the configured issuers.
        authorization_servers: List<Text>,
        /// `scopesSupported`.
        scopes_supported: List<Text, false, true>,
        /// `bearerMethodsSupported`: default `["header"]`.
        bearer_methods_supported: List<Text, false, true>,
        /// `resourceName`.
        resource_name: Text,
        /// `resourceDocumentation`.
        resource_documentation: Text,
        /// `resourcePolicyUri`.
        resource_policy_uri: Text,
        /// `resourceTosUri`.
        resource_tos_uri: Text,
        /// `tlsClientCertificateBoundAccessTokens`.
        tls_client_certificate_bound_access_tokens: Flag,
        /// `dpopSigningAlgValuesSupported`: default: the DPoP algorithms.
        dpop_signing_alg_values_supported: List<Text>,
        /// `dpopBoundAccessTokensRequired`: default: whether every issuer requires DPoP.
        dpop_bound_access_tokens_required: Flag,
    }
}

schema! {
    /// `ClassifyOptions`: how tokens are classified.
    pub struct ClassifyOptions {
        /// `rules`: the classification rules, in order.
        rules: List<Name<ClassifyRule>, false, true>,
        /// `m2mClaim`: a boolean claim asserting machine or user.
        m2m_claim: Text,
        /// `userIdClaim`: the claim naming the user a machine acts for.
        user_id_claim: Text,
        /// `rolesClaim`: the claim carrying roles.
        roles_claim: Text,
    }
}

schema! {
    /// `JwksCacheOptions`: the JWKS cache policy, in seconds.
    pub struct JwksCacheOptions {
        /// `defaultMaxAge`.
        default_max_age: Count,
        /// `minMaxAge`.
        min_max_age: Count,
        /// `maxMaxAge`.
        max_max_age: Count,
        /// `cooldown`.
        cooldown: Count,
        /// `staleWindow`.
        stale_window: Count,
        /// `refreshAhead`.
        refresh_ahead: Count,
    }
}

schema! {
    /// `Requirement`: what `authorize` requires of a token.
    pub struct RequirementOptions {
        /// `kinds`: the allowed kinds.
        kinds: List<Name<Kind>, true>,
        /// `scopesAll`: scopes that must all be granted.
        scopes_all: List<Text, true, true>,
        /// `scopesAny`: scopes of which one must be granted.
        scopes_any: List<Text, true, true>,
        /// `rolesAny`: roles of which one must be granted.
        roles_any: List<Text, true, true>,
        /// `clients`: the allowed client ids.
        clients: List<Text, true>,
        /// `machinesBypassScopes`: machines skip the scope and role checks.
        machines_bypass_scopes: Flag,
        /// `delegation`: `"required"` or `"forbidden"`.
        delegation: DelegationName,
        /// `senderConstrained`: only sender-constrained tokens (DPoP-bound or
        /// certificate-bound, their binding proven).
        sender_constrained: Flag,
        /// `claims`: rules on the token's claims (claim name or JSON pointer to
        /// `{ equals, anyOf, includes, present }`); all must hold.
        claims: ClaimRulesOption,
        /// `actors`: the allowed current actors of a delegated token.
        actors: List<Text, true>,
        /// `maxDelegationDepth`: the most nested `act` objects a token may carry.
        max_delegation_depth: Count,
    }
}

schema! {
    /// `ClaimRule`: one claim's rule in a requirement's `claims` (the core's
    /// `ClaimRule`, its operators in camelCase).
    pub struct ClaimRuleOptions {
        /// `equals`: the claim equals this JSON value.
        equals: Json,
        /// `anyOf`: the claim (or an element of an array claim) equals one of these.
        any_of: List<Json>,
        /// `includes`: the claim is an array containing every one of these.
        includes: List<Json>,
        /// `present`: the claim is present (`true`) or absent (`false`).
        present: Flag,
    }
}

schema! {
    /// `DecodeOptions`: the options of `decode`.
    pub struct DecodeOptions {
        /// `classify`: as for `createVerifier`.
        classify: Entry<ClassifyOptions>,
        /// `scopeClaims`: as for `createVerifier`.
        scope_claims: List<Name<ScopeSource>, false, true> => "classify.scope_claims",
        /// `maxTokenBytes`: the size cap of a token.
        max_token_bytes: Count,
    }
}

// ---------------------------------------------------------------------------------
// Translation into the core's types.
// ---------------------------------------------------------------------------------

/// The options read by the bindings from the JS object (not plain data: removed
/// before the rest is read as JSON): the fields of [`CommonOptions`] that set no core
/// field.
pub fn js_only() -> Vec<&'static str> {
    CommonOptions::fields()
        .iter()
        .filter(|f| f.core.is_empty())
        .map(|f| f.js)
        .collect()
}

/// The core configuration built from JS options, with the values of `secret` options.
#[derive(Debug)]
pub struct Translated {
    /// The validated core configuration.
    pub config: Config,
    /// Secret name (as put in `shared_secret`) -> base64url value.
    pub secrets: HashMap<String, String>,
    /// Whether the options had the single-issuer form (for [`config_error`]).
    pub single: bool,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The core configuration as `Config`'s own defaults fill it (not validated).
fn default_config() -> OptResult<Config> {
    serde_json::from_value(serde_json::json!({ "issuers": [] }))
        .map_err(|e| OptionError::new("", e.to_string()))
}

fn to_usize(n: u64) -> usize {
    // Out of range on a 32-bit target: the core's bounds then refuse it.
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// One issuer's core configuration from its options (`src`) and, for an `issuers[]`
/// entry, the top-level defaults. `prefix` is the JS path of the entry (`""` for the
/// single-issuer form, `issuers[i]` otherwise).
fn issuer_config(
    src: IssuerOptions,
    defaults: Option<&IssuerOptions>,
    prefix: &str,
    index: usize,
    secrets: &mut HashMap<String, String>,
) -> OptResult<IssuerConfig> {
    let d = defaults.cloned().unwrap_or_default();
    let issuer = src
        .issuer
        .ok_or_else(|| OptionError::new(join(prefix, "issuer"), "is required"))?;
    let audiences = src
        .audiences
        .or(d.audiences)
        .ok_or_else(|| OptionError::new(join(prefix, "audience"), "is required"))?;
    let shared_secret = match src.shared_secret {
        None => None,
        Some(Text(value)) => {
            let at = join(prefix, "secret");
            let bytes = b64_decode(value.trim())
                .ok_or_else(|| OptionError::new(&at, "must be base64url without padding"))?;
            KeySet::from_secret(&bytes).map_err(|e| OptionError::new(&at, e.to_string()))?;
            let name = format!("issuers[{index}].secret");
            secrets.insert(name.clone(), value);
            Some(name)
        }
    };
    Ok(IssuerConfig {
        issuer: issuer.0,
        audiences: audiences.map(|t| t.0),
        jwks_uri: src.jwks_uri.map(|t| t.0),
        jwks: src.jwks.map(|j| j.0),
        shared_secret,
        algorithms: src.algorithms.or(d.algorithms).map(|l| l.map(|n| n.0)),
        required_typ: src.required_typ.or(d.required_typ).map(|t| t.0),
        require_exp: src.require_exp.or(d.require_exp).is_none_or(|f| f.0),
        max_age: src.max_age.or(d.max_age).map(|c| c.0),
        required_claims: src
            .required_claims
            .or(d.required_claims)
            .map(|l| l.map(|t| t.0))
            .unwrap_or_default(),
        dpop: src.dpop.or(d.dpop).map(|n| n.0).unwrap_or_default(),
    })
}

/// Applies `classify` and `scopeClaims` onto a classification configuration.
fn apply_classify(
    classify: Option<Entry<ClassifyOptions>>,
    scope_claims: Option<List<Name<ScopeSource>, false, true>>,
    out: &mut ClassifyConfig,
) {
    if let Some(Entry(c)) = classify {
        if let Some(rules) = c.rules {
            out.rules = rules.map(|n| n.0);
        }
        if let Some(t) = c.m2m_claim {
            out.m2m_claim = Some(t.0);
        }
        if let Some(t) = c.user_id_claim {
            out.user_id_claim = Some(t.0);
        }
        if let Some(t) = c.roles_claim {
            out.roles_claim = Some(t.0);
        }
    }
    if let Some(s) = scope_claims {
        out.scope_claims = s.map(|n| n.0);
    }
}

fn apply_jwks_cache(c: JwksCacheOptions, out: &mut JwksCacheConfig) {
    let set = |v: Option<Count>, field: &mut u64| {
        if let Some(Count(n)) = v {
            *field = n;
        }
    };
    set(c.default_max_age, &mut out.default_max_age);
    set(c.min_max_age, &mut out.min_max_age);
    set(c.max_max_age, &mut out.max_max_age);
    set(c.cooldown, &mut out.cooldown);
    set(c.stale_window, &mut out.stale_window);
    set(c.refresh_ahead, &mut out.refresh_ahead);
}

fn dpop_config(d: DpopOptions) -> DpopConfig {
    let mut out = DpopConfig::default();
    if let Some(Count(n)) = d.proof_max_age {
        out.proof_max_age = n;
    }
    if let Some(Flag(b)) = d.nonce {
        out.nonce = b;
    }
    out.public_base_url = d.public_base_url.map(|t| t.0);
    out.algorithms = d.algorithms.map(|l| l.map(|n| n.0));
    out
}

/// The core's `resource_metadata` section of its options: the same members in
/// snake_case, read by the core (which checks them).
fn resource_metadata_config(m: ResourceMetadataOptions) -> OptResult<ResourceMetadataConfig> {
    let resource = m
        .resource
        .ok_or_else(|| OptionError::new("resourceMetadata.resource", "is required"))?;
    let strings = |l: Vec<Text>| l.into_iter().map(|t| t.0).collect::<Vec<_>>();
    let mut cfg = ResourceMetadataConfig::new(resource.0);
    cfg.authorization_servers = m.authorization_servers.map(|l| strings(l.0));
    cfg.scopes_supported = m.scopes_supported.map(|l| strings(l.0));
    cfg.bearer_methods_supported = m.bearer_methods_supported.map(|l| strings(l.0));
    cfg.resource_name = m.resource_name.map(|t| t.0);
    cfg.resource_documentation = m.resource_documentation.map(|t| t.0);
    cfg.resource_policy_uri = m.resource_policy_uri.map(|t| t.0);
    cfg.resource_tos_uri = m.resource_tos_uri.map(|t| t.0);
    cfg.tls_client_certificate_bound_access_tokens =
        m.tls_client_certificate_bound_access_tokens.map(|f| f.0);
    cfg.dpop_signing_alg_values_supported =
        m.dpop_signing_alg_values_supported.map(|l| strings(l.0));
    cfg.dpop_bound_access_tokens_required = m.dpop_bound_access_tokens_required.map(|f| f.0);
    Ok(cfg)
}

/// The option error of a core configuration error: the core names a configuration
/// field, the schema gives its JS path (without `issuers[0].` in the single-issuer
/// form).
pub fn config_error(e: &ConfigError, single: bool) -> OptionError {
    match e {
        ConfigError::Invalid { field, why } => {
            let path = match field.strip_prefix("issuers[0].") {
                Some(rest) if single => js_path(&IssuerOptions::fields(), rest),
                _ => js_path(&CommonOptions::fields(), field),
            };
            OptionError::new(path, why.clone())
        }
        other => {
            let s = other.to_string();
            let why = s.strip_prefix("invalid configuration: ").unwrap_or(&s);
            OptionError::new("", why)
        }
    }
}

/// Translates `createVerifier` options (plain data, without [`js_only`]) into a
/// validated core configuration.
pub fn translate(opts: &Value) -> OptResult<Translated> {
    let Value::Object(obj) = opts else {
        return Err(OptionError::new(
            "",
            format!(
                "createVerifier expects an options object, got {}",
                type_name(opts)
            ),
        ));
    };
    // The top level holds the issuer options and the common ones.
    let issuer_names = field_names::<IssuerOptions>();
    let (mine, rest): (Map<String, Value>, Map<String, Value>) = obj
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| issuer_names.contains(&k.as_str()));
    let common: CommonOptions = parse(Value::Object(rest), issuer_names)?;
    let top: IssuerOptions = parse(Value::Object(mine), &[])?;

    let mut secrets = HashMap::new();
    let single = common.issuers.is_none();
    let issuers = match common.issuers {
        None => {
            if top.issuer.is_none() {
                return Err(OptionError::new(
                    "issuer",
                    "is required (or give issuers: [...])",
                ));
            }
            vec![issuer_config(top, None, "", 0, &mut secrets)?]
        }
        Some(list) => {
            if top.issuer.is_some() {
                return Err(OptionError::new(
                    "issuer",
                    "give either issuer or issuers, not both",
                ));
            }
            let sources = [
                ("jwksUri", top.jwks_uri.is_some()),
                ("jwks", top.jwks.is_some()),
                ("secret", top.shared_secret.is_some()),
            ];
            if let Some((key, _)) = sources.iter().find(|(_, given)| *given) {
                return Err(OptionError::new(
                    *key,
                    "with issuers, give it in each issuers[] entry",
                ));
            }
            let mut out = Vec::with_capacity(list.0.len());
            for (i, Entry(entry)) in list.0.into_iter().enumerate() {
                out.push(issuer_config(
                    entry,
                    Some(&top),
                    &format!("issuers[{i}]"),
                    i,
                    &mut secrets,
                )?);
            }
            out
        }
    };

    let mut config = default_config()?;
    config.issuers = issuers;
    if let Some(Count(n)) = common.leeway {
        config.leeway = n;
    }
    apply_classify(common.classify, common.scope_claims, &mut config.classify);
    if let Some(Count(n)) = common.max_token_bytes {
        config.max_token_bytes = to_usize(n);
    }
    if let Some(AnyText(realm)) = common.realm {
        config.realm = realm;
    }
    if let Some(Flag(b)) = common.wildcard_scopes {
        config.wildcard_scopes = b;
    }
    if let Some(Count(n)) = common.token_cache_size {
        config.token_cache_size = to_usize(n);
    }
    if let Some(Entry(c)) = common.jwks_cache {
        apply_jwks_cache(c, &mut config.jwks_cache);
    }
    if let Some(Count(n)) = common.fetch_timeout_ms {
        config.jwks_cache.fetch_timeout_ms = n;
    }
    if let Some(Entry(d)) = common.dpop {
        config.dpop = Some(dpop_config(d));
    }
    if let Some(Entry(m)) = common.resource_metadata {
        config.resource_metadata = Some(resource_metadata_config(m)?);
    }
    if let Some(Entry(r)) = common.revocation {
        config.revocation = Some(RevocationConfig {
            cache_seconds: r
                .cache_seconds
                .map_or(DEFAULT_REVOCATION_CACHE_SECONDS, |c| c.0),
        });
    }
    config.validate().map_err(|e| config_error(&e, single))?;
    Ok(Translated {
        config,
        secrets,
        single,
    })
}

/// Translates an `authorize` requirement (`null`: none) into the core's
/// [`Requirement`].
pub fn requirement(req: &Value) -> OptResult<Requirement> {
    let obj = match req {
        Value::Null => return Ok(Requirement::default()),
        Value::Object(_) => req.clone(),
        other => {
            return Err(OptionError::new(
                "",
                format!(
                    "authorize expects a requirement object, got {}",
                    type_name(other)
                ),
            )
            .requirement())
        }
    };
    let r: RequirementOptions = parse(obj, &[]).map_err(OptionError::requirement)?;
    let strings = |l: Option<List<Text, true, true>>| l.map_or_else(Vec::new, |l| l.map(|t| t.0));
    Ok(Requirement {
        kinds: r.kinds.map(|l| l.map(|n| n.0)),
        scopes_all: strings(r.scopes_all),
        scopes_any: strings(r.scopes_any),
        roles_any: strings(r.roles_any),
        clients: r.clients.map(|l| l.map(|t| t.0)),
        machines_bypass_scopes: r.machines_bypass_scopes.is_some_and(|f| f.0),
        delegation: r.delegation.map(|d| d.0),
        sender_constrained: r.sender_constrained.is_some_and(|f| f.0),
        claims: claim_rules(r.claims)?,
        actors: r.actors.map(|l| l.map(|t| t.0)),
        max_delegation_depth: r
            .max_delegation_depth
            .map(|Count(n)| {
                u32::try_from(n).map_err(|_| {
                    OptionError::new("maxDelegationDepth", "is too large").requirement()
                })
            })
            .transpose()?,
    })
}

/// The core's claim rules of a requirement's `claims`, checked with the messages of
/// the JS names (`anyOf`).
fn claim_rules(rules: Option<ClaimRulesOption>) -> OptResult<ClaimRules> {
    let mut out = ClaimRules::new();
    for (name, r) in rules.map(|r| r.0).unwrap_or_default() {
        let at = format!("claims.{name}");
        if r.equals.is_none() && r.any_of.is_none() && r.includes.is_none() && r.present.is_none() {
            return Err(OptionError::new(
                at,
                "needs at least one of equals, anyOf, includes, present",
            )
            .requirement());
        }
        if r.present == Some(Flag(false))
            && (r.equals.is_some() || r.any_of.is_some() || r.includes.is_some())
        {
            return Err(OptionError::new(
                at,
                "present: false cannot be combined with a rule on the claim's value (equals, anyOf, includes)",
            )
            .requirement());
        }
        let values = |l: Option<List<Json>>| l.map(|l| l.map(|j| j.0));
        out.insert(
            name,
            ClaimRule {
                equals: r.equals.map(|j| j.0),
                any_of: values(r.any_of),
                includes: values(r.includes),
                present: r.present.map(|f| f.0),
            },
        );
    }
    Ok(out)
}

/// The option error of an invalid requirement found by the core's policy compiler,
/// whose paths are those of a route (`routes[0].require.scopes_all`).
pub fn requirement_error(e: &ConfigError) -> OptionError {
    let mut err = config_error(e, false);
    if let ConfigError::Invalid { field, .. } = e {
        if let Some(rest) = field.strip_prefix("routes[0].require.") {
            err.option = match rest.strip_prefix("claims.") {
                // A claim's name is the caller's own; only an operator is renamed.
                Some(claim) => format!(
                    "claims.{}",
                    claim
                        .strip_suffix(".any_of")
                        .map_or_else(|| claim.to_string(), |c| format!("{c}.anyOf"))
                ),
                None => js_path(&RequirementOptions::fields(), rest),
            };
            err.why = err
                .why
                .replace("any_of", "anyOf")
                .replace("max_delegation_depth", "maxDelegationDepth");
        }
    }
    err.requirement()
}

/// Translates `decode` options (`null`: none) into a classification configuration
/// and a token size cap.
pub fn decode_options(opts: &Value) -> OptResult<(ClassifyConfig, usize)> {
    let obj = match opts {
        Value::Null => return Ok((ClassifyConfig::default(), DEFAULT_MAX_TOKEN_BYTES)),
        Value::Object(_) => opts.clone(),
        other => {
            return Err(OptionError::new(
                "",
                format!("decode expects an options object, got {}", type_name(other)),
            ))
        }
    };
    let o: DecodeOptions = parse(obj, &[])?;
    let mut classify = ClassifyConfig::default();
    apply_classify(o.classify, o.scope_claims, &mut classify);
    classify.validate("classify.").map_err(|e| match &e {
        ConfigError::Invalid { field, why } => {
            OptionError::new(js_path(&DecodeOptions::fields(), field), why.clone())
        }
        _ => config_error(&e, true),
    })?;
    let max = match o.max_token_bytes {
        Some(Count(n)) => {
            usize::try_from(n).map_err(|_| OptionError::new("maxTokenBytes", "is too large"))?
        }
        None => DEFAULT_MAX_TOKEN_BYTES,
    };
    Ok((classify, max))
}

/// Reads a JS value as JSON (through `JSON.stringify`); `undefined` becomes `null`.
pub fn from_js(v: &JsValue, what: &str) -> OptResult<Value> {
    if v.is_undefined() || v.is_null() {
        return Ok(Value::Null);
    }
    let text = js_sys::JSON::stringify(v)
        .map_err(|e| {
            let why = js_sys::Reflect::get(&e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| "it cannot be serialised as JSON".into());
            OptionError::new("", format!("{what}: {why}"))
        })?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&text)
        .map_err(|e| OptionError::new("", format!("{what} are not plain data: {e}")))
}

#[cfg(test)]
mod tests;
