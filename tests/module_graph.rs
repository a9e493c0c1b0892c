//! The modules of each crate import one another without cycles, so that any of them
//! (the token exchange above all) can be cut out or made optional along its edges.
//!
//! The graph is read from the sources: every `crate::x` (and, in a crate's top-level
//! module files, `super::x`) path in code, `use` lines or inline, naming a module of the
//! same crate, or an item the crate root re-exports from one (`pub use x::{...}` in
//! `lib.rs`), is an edge. Comments (doc comments and their intra-doc links included)
//! and string literals are not code. Test modules count too: a cycle through a test is
//! still a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The source with comments and the contents of string and character literals
/// blanked out (lengths and newlines kept), so only code is searched.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |c: u8| if c == b'\n' { b'\n' } else { b' ' };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if (rest.starts_with(b"r#") || rest.starts_with(b"r\""))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            // A raw string: r"..." or r#"..."#, with any number of #.
            let hashes = rest[1..].iter().take_while(|&&c| c == b'#').count();
            if rest.get(1 + hashes) != Some(&b'"') {
                out.push(b[i]);
                i += 1;
                continue;
            }
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            out.extend(std::iter::repeat_n(b' ', 2 + hashes));
            i += 2 + hashes;
            while i < b.len() && !b[i..].starts_with(&close) {
                out.push(blank(b[i]));
                i += 1;
            }
            out.extend(std::iter::repeat_n(b' ', close.len()));
            i += close.len();
        } else if b[i] == b'"' {
            out.push(b' ');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    out.push(b' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(b' ');
            i += 1;
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\u{..}', '"'), else a lifetime.
            let end = if rest.get(1) == Some(&b'\\') {
                rest.iter().skip(2).position(|&c| c == b'\'').map(|p| p + 2)
            } else {
                // The length of the UTF-8 character after the quote, from its first byte.
                let len = match rest.get(1) {
                    Some(&c) if c < 0x80 => 1,
                    Some(&c) if c >= 0xf0 => 4,
                    Some(&c) if c >= 0xe0 => 3,
                    Some(_) => 2,
                    None => 0,
                };
                Some(1 + len).filter(|&e| len > 0 && rest.get(e) == Some(&b'\''))
            };
            match end {
                Some(e) => {
                    out.extend(std::iter::repeat_n(b' ', e + 1));
                    i += e + 1;
                }
                None => {
                    out.push(b'\'');
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first identifier of each item of a `{...}` use group (`{a::b, c, self}` gives
/// `a`, `c`, `self`), given the text after the opening brace.
fn group_heads(after_brace: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut at_item_start = true;
    let mut chars = after_brace.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item_start = true,
            c if at_item_start && depth == 0 && (c.is_alphabetic() || c == '_') => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                heads.push(after_brace[i..end].to_string());
                at_item_start = false;
            }
            _ => {}
        }
    }
    heads
}

/// The names that follow `prefix::` in `code` (for a group, each item's first name),
/// with the byte offset of each.
fn path_heads(code: &str, prefix: &str) -> Vec<(usize, String)> {
    let needle = format!("{prefix}::");
    let mut out = Vec::new();
    for (at, _) in code.match_indices(&needle) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // `foo::crate::` cannot happen; `my_crate::x` is not `crate::x`
        }
        let rest = code[at + needle.len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            out.extend(group_heads(group).into_iter().map(|h| (at, h)));
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push((at, name));
            }
        }
    }
    out
}

/// Byte offsets of `code` that lie inside an inline `mod name { ... }` block, where
/// `super::` names the file's own module rather than the crate root.
fn in_inline_mod(code: &str) -> Vec<bool> {
    let mut inside = vec![false; code.len() + 1];
    let b = code.as_bytes();
    let mut stack: Vec<bool> = Vec::new();
    let mut pending_mod = false;
    let mut i = 0;
    let mut word = String::new();
    let mut last_words: Vec<String> = Vec::new();
    while i < b.len() {
        let c = b[i] as char;
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            if !word.is_empty() {
                last_words.push(std::mem::take(&mut word));
                let n = last_words.len();
                pending_mod = n >= 2 && last_words[n - 2] == "mod";
            }
            match c {
                '{' => {
                    stack.push(pending_mod);
                    pending_mod = false;
                }
                '}' => {
                    stack.pop();
                }
                ';' => pending_mod = false,
                _ => {}
            }
        }
        inside[i] = stack.iter().any(|&m| m);
        i += 1;
    }
    inside
}

/// The module graph of the crate whose root is `src/lib.rs` (top-level modules only:
/// every other `.rs` file in `src`).
fn crate_graph(src: &Path) -> Graph {
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if stem != "lib" && stem != "main" {
                modules.insert(stem);
            }
        }
    }
    // Items the root re-exports from a module: `pub use x::{A, B};`, `pub use x::A;`.
    let lib = code_only(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut reexports: BTreeMap<String, String> = BTreeMap::new();
    for stmt in lib.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, items)) = rest.split_once("::") else {
            continue;
        };
        let module = module.trim();
        if !modules.contains(module) {
            continue;
        }
        let items = items.trim();
        let names = match items.strip_prefix('{') {
            Some(g) => group_heads(g),
            None => vec![items
                .rsplit("::")
                .next()
                .unwrap_or(items)
                .trim()
                .to_string()],
        };
        for n in names {
            reexports.insert(n, module.to_string());
        }
    }
    let mut graph = Graph::new();
    for m in &modules {
        let code = code_only(&std::fs::read_to_string(src.join(format!("{m}.rs"))).unwrap());
        let inline = in_inline_mod(&code);
        let mut heads = path_heads(&code, "crate");
        heads.extend(
            path_heads(&code, "super")
                .into_iter()
                .filter(|(at, _)| !inline[*at]),
        );
        let deps = graph.entry(m.clone()).or_default();
        for (_, name) in heads {
            let target = if modules.contains(&name) {
                Some(name)
            } else {
                reexports.get(&name).cloned()
            };
            if let Some(t) = target.filter(|t| t != m) {
                deps.insert(t);
            }
        }
    }
    graph
}

/// A cycle of the graph, as the list of modules around it (first repeated last).
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        n: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(n) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|p| p == n).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(n.to_string(), Mark::Open);
        path.push(n.to_string());
        for d in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, graph, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(n.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every crate of the workspace: the core and each `crates/*`.
fn crate_sources() -> Vec<PathBuf> {
    let mut dirs = vec![root().join("src")];
    let mut adapters: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|p| p.join("lib.rs").is_file())
        .collect();
    adapters.sort();
    dirs.extend(adapters);
    dirs
}

fn show(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(m, d)| {
            format!(
                "  {m} -> {}\n",
                d.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect()
}

#[test]
fn no_crate_has_a_module_cycle() {
    let dirs = crate_sources();
    assert!(dirs.iter().any(|d| d.ends_with("crates/worker/src")));
    for dir in dirs {
        let graph = crate_graph(&dir);
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "module cycle in {}: {}\n{}",
                dir.display(),
                cycle.join(" -> "),
                show(&graph)
            );
        }
    }
}

#[test]
fn the_graph_is_read_from_the_sources() {
    // Known edges, one of each form: a `use` group, a root re-export, an inline path,
    // `super::` at the top level of a Worker module.
    let core = crate_graph(&root().join("src"));
    let deps = |g: &Graph, m: &str| g.get(m).cloned().unwrap_or_default();
    assert!(deps(&core, "gate").contains("config"), "{}", show(&core));
    assert!(deps(&core, "classify").contains("error"), "{}", show(&core));
    assert!(
        deps(&core, "config").contains("exchange"),
        "{}",
        show(&core)
    );
    assert!(
        deps(&core, "exchange").contains("percent"),
        "{}",
        show(&core)
    );
    // The token exchange is a leaf as far as the pipeline goes: nothing but the
    // configuration that carries its section depends on it.
    for (m, d) in &core {
        if d.contains("exchange") {
            assert_eq!(m, "config", "{}", show(&core));
        }
    }
    assert!(!deps(&core, "exchange").contains("gate"), "{}", show(&core));
    let worker = crate_graph(&root().join("crates/worker/src"));
    assert!(
        deps(&worker, "app").contains("exchange"),
        "{}",
        show(&worker)
    );
    assert!(
        !deps(&worker, "exchange").contains("app"),
        "{}",
        show(&worker)
    );
}

#[test]
fn the_reader_sees_code_only() {
    let code = code_only(
        "use crate::a; // crate::b\n/* crate::c /* crate::d */ crate::e */ let s = \"crate::f\";\n\
         let r = r#\"crate::g\"#; let c = '\"'; fn f<'x>(v: &'x str) { crate::h::go(); }\n",
    );
    let heads: Vec<String> = path_heads(&code, "crate")
        .into_iter()
        .map(|h| h.1)
        .collect();
    assert_eq!(heads, ["a", "h"]);
    let groups = path_heads(
        "use crate::{a::{B, C}, d, self as e};\nuse crate::{ x::y };",
        "crate",
    );
    let names: Vec<&str> = groups.iter().map(|h| h.1.as_str()).collect();
    assert_eq!(names, ["a", "d", "self", "x"]);
    let src = "use super::x;\nmod tests {\n    use super::*;\n    fn f() { super::y(); }\n}\n";
    let inline = in_inline_mod(src);
    let outside: Vec<String> = path_heads(src, "super")
        .into_iter()
        .filter(|(at, _)| !inline[*at])
        .map(|h| h.1)
        .collect();
    assert_eq!(outside, ["x"]);
}

#[test]
fn a_cycle_is_found() {
    let g = |edges: &[(&str, &str)]| {
        let mut g = Graph::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    assert_eq!(find_cycle(&g(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
    assert_eq!(
        find_cycle(&g(&[
            ("config", "exchange"),
            ("exchange", "gate"),
            ("gate", "config")
        ])),
        Some(vec![
            "config".to_string(),
            "exchange".into(),
            "gate".into(),
            "config".into()
        ])
    );
    assert!(find_cycle(&g(&[("a", "b"), ("b", "a")])).is_some());
}
