//! The hand-kept copies of the error catalogue match it: the README's error table and
//! the npm `ErrorCode` union. (The decoder page reads its help texts from
//! `errorCatalogue()` of the JS bindings, which is the table itself.)

use std::collections::BTreeSet;

use tokengate::markdown_table;
use tokengate::{Stage, CATALOGUE};

fn read(path: &str) -> String {
    let full = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    std::fs::read_to_string(format!("{full}{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn readme_error_table_matches_the_catalogue() {
    let readme = read("README.md");
    let expected = markdown_table();
    let header = expected.lines().next().unwrap();
    let start = readme
        .find(header)
        .unwrap_or_else(|| panic!("README.md has no table starting with {header:?}"));
    let table: String = readme[start..]
        .lines()
        .take_while(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        table == expected,
        "README.md's error table differs from the catalogue; replace it with:\n\n{expected}"
    );
    assert_eq!(readme.matches(header).count(), 1);
}

#[test]
fn npm_error_code_union_matches_the_catalogue() {
    let dts = read("npm/index.d.ts");
    let start = dts
        .find("export type ErrorCode =")
        .expect("npm/index.d.ts declares ErrorCode");
    let decl = &dts[start..start + dts[start..].find(';').expect("ErrorCode ends with ;")];
    let listed: Vec<&str> = decl.split('"').skip(1).step_by(2).collect();
    let unique: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "a code is listed twice: {listed:?}"
    );
    assert!(
        decl.contains("(string & {})"),
        "ErrorCode stays open to new codes"
    );
    // The verifier's codes: every stage but the token endpoint's.
    let want: BTreeSet<&str> = CATALOGUE
        .iter()
        .filter(|i| i.stage != Stage::Exchange)
        .map(|i| i.code)
        .collect();
    assert_eq!(
        unique,
        want,
        "npm/index.d.ts ErrorCode: missing {:?}, extra {:?}",
        want.difference(&unique).collect::<Vec<_>>(),
        unique.difference(&want).collect::<Vec<_>>()
    );
    // In the catalogue's order, so that a reader can compare them.
    let order: Vec<&str> = CATALOGUE
        .iter()
        .filter(|i| i.stage != Stage::Exchange)
        .map(|i| i.code)
        .collect();
    assert_eq!(listed, order);
}
