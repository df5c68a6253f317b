//! README.md and the crate docs (`src/lib.rs`) say the same thing, and what
//! they say matches Cargo.toml:
//!
//! * the type table and the feature-flag table are the same in both (up to
//!   rustdoc's intra-doc links: `` [`X`] `` and `` [`X`](path) `` read as
//!   `` `X` ``);
//! * the feature table lists exactly the features of Cargo.toml, and says
//!   "yes" in its `default` column exactly for the default ones;
//! * the sentence "With default features the crate depends only on …" names
//!   exactly the crates a default build depends on: the non-optional
//!   `[dependencies]` plus the optional ones the default features enable;
//! * the README's paragraph "Rust <version> or newer …" states Cargo.toml's
//!   `rust-version` and the declared floor of every dependency it names.
//!
//! So a new type, feature or dependency cannot go into one of them alone.
//! (Plain text over the three files: no runtime, no dependency.)

use std::collections::{BTreeMap, BTreeSet};

const README: &str = include_str!("../README.md");
const LIB_RS: &str = include_str!("../src/lib.rs");
const MANIFEST: &str = include_str!("../Cargo.toml");

const TYPE_TABLE: &str = "| type | what it is | like |";
const FEATURE_TABLE: &str = "| feature | default | what it adds |";
const DEPENDENCIES: &str = "With default features the crate depends only on";

/// The crate-level doc comment of `src/lib.rs`, as Markdown.
fn crate_docs() -> String {
    LIB_RS
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("//!"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `line` with rustdoc's links read as plain text: `` [`X`] `` and
/// `` [`X`](target) `` become `` `X` ``, `[text](target)` becomes `text`.
fn unlink(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push_str(&rest[open..]);
            return out;
        };
        out.push_str(&after[..close]);
        rest = &after[close + 1..];
        if rest.starts_with('(') {
            if let Some(end) = rest.find(')') {
                rest = &rest[end + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The Markdown table whose header row is `header`: its rows, unlinked and
/// with the cells' padding normalized.
fn table(doc: &str, header: &str, file: &str) -> Vec<String> {
    let mut lines = doc.lines().skip_while(|line| line.trim() != header);
    assert!(
        lines.next().is_some(),
        "{file}: no table with the header `{header}`"
    );
    lines
        .take_while(|line| line.trim_start().starts_with('|'))
        .filter(|line| !line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')))
        .map(|line| {
            unlink(line)
                .split('|')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

/// The first cell of each row, without its backticks.
fn first_cells(rows: &[String]) -> Vec<String> {
    rows.iter()
        .map(|row| {
            let cell = row.trim_start_matches(" | ").split(" | ").next().unwrap();
            cell.trim_matches('`').to_string()
        })
        .collect()
}

/// The crates named in backticks in the paragraph that starts with
/// [`DEPENDENCIES`].
fn named_dependencies(doc: &str, file: &str) -> BTreeSet<String> {
    let start = doc
        .find(DEPENDENCIES)
        .unwrap_or_else(|| panic!("{file}: no sentence \"{DEPENDENCIES} …\""));
    let paragraph = doc[start..].split("\n\n").next().unwrap();
    paragraph
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The manifest's tables: `[name]` → its `key = value` entries, a value
/// spread over several lines (an array) joined into one.
fn manifest_tables() -> BTreeMap<String, Vec<(String, String)>> {
    let mut tables: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current = String::new();
    let mut lines = MANIFEST.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            current = line.trim_matches(['[', ']']).to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let mut value = value.trim().to_string();
        if value.starts_with('[') {
            while !value.contains(']') {
                value.push_str(lines.next().expect("an unclosed array").trim());
            }
        }
        tables
            .entry(current.clone())
            .or_default()
            .push((key.trim().to_string(), value));
    }
    tables
}

/// The quoted strings of a TOML array such as `["std", "dep:tokio"]`.
fn strings(array: &str) -> Vec<String> {
    array
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The features Cargo.toml declares (without `default`), and the default ones.
fn manifest_features() -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let mut features: BTreeMap<String, Vec<String>> = manifest_tables()
        .remove("features")
        .expect("Cargo.toml has a [features] table")
        .into_iter()
        .map(|(name, value)| (name, strings(&value)))
        .collect();
    let default = features.remove("default").unwrap_or_default();
    (features, default)
}

/// What a default build depends on: every non-optional `[dependencies]`
/// entry, and the optional ones the default features (and the features
/// they enable) turn on.
fn default_dependencies() -> BTreeSet<String> {
    let dependencies = manifest_tables()
        .remove("dependencies")
        .expect("Cargo.toml has a [dependencies] table");
    let optional: BTreeSet<&str> = dependencies
        .iter()
        .filter(|(_, value)| value.replace(' ', "").contains("optional=true"))
        .map(|(name, _)| name.as_str())
        .collect();
    let mut enabled: BTreeSet<String> = dependencies
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| !optional.contains(name.as_str()))
        .collect();

    let (features, default) = manifest_features();
    let mut todo = default;
    let mut seen = BTreeSet::new();
    while let Some(item) = todo.pop() {
        if !seen.insert(item.clone()) {
            continue;
        }
        if let Some(dependency) = item.strip_prefix("dep:") {
            enabled.insert(dependency.to_string());
        } else if let Some((dependency, _)) = item.split_once('/') {
            // `crate/feature` turns an optional crate on; `crate?/feature`
            // only adds the feature to a crate that is on already.
            if !dependency.ends_with('?') && optional.contains(dependency) {
                enabled.insert(dependency.to_string());
            }
        } else if let Some(implied) = features.get(&item) {
            todo.extend(implied.iter().cloned());
        } else if optional.contains(item.as_str()) {
            enabled.insert(item);
        }
    }
    enabled
}

#[test]
fn readme_and_crate_docs_have_the_same_type_table() {
    let readme = table(README, TYPE_TABLE, "README.md");
    let docs = table(&crate_docs(), TYPE_TABLE, "src/lib.rs");
    assert!(readme.len() > 1, "README.md: the type table has no rows");
    assert_eq!(
        readme, docs,
        "the type tables of README.md and src/lib.rs differ"
    );
}

#[test]
fn readme_and_crate_docs_have_the_same_feature_table() {
    let readme = table(README, FEATURE_TABLE, "README.md");
    let docs = table(&crate_docs(), FEATURE_TABLE, "src/lib.rs");
    assert_eq!(
        readme, docs,
        "the feature tables of README.md and src/lib.rs differ"
    );
}

#[test]
fn feature_table_lists_the_features_of_the_manifest_and_their_defaults() {
    let rows = table(README, FEATURE_TABLE, "README.md");
    let (features, default) = manifest_features();
    let listed: BTreeSet<String> = first_cells(&rows).into_iter().collect();
    let declared: BTreeSet<String> = features.keys().cloned().collect();
    assert_eq!(
        listed, declared,
        "the feature table does not list the features of Cargo.toml"
    );
    for row in &rows {
        let cells: Vec<&str> = row.trim_start_matches(" | ").split(" | ").collect();
        let name = cells[0].trim_matches('`');
        let says_default = match cells[1] {
            "yes" => true,
            "no" => false,
            other => panic!("feature `{name}`: default column says {other:?}"),
        };
        assert_eq!(
            says_default,
            default.iter().any(|feature| feature == name),
            "feature `{name}`: the table's default column disagrees with Cargo.toml"
        );
    }
}

#[test]
fn readme_and_crate_docs_name_exactly_the_default_dependencies() {
    let expected = default_dependencies();
    assert!(expected.contains("event-listener"), "parsed {expected:?}");
    assert_eq!(
        named_dependencies(README, "README.md"),
        expected,
        "README.md: the default dependencies are not those of Cargo.toml"
    );
    assert_eq!(
        named_dependencies(&crate_docs(), "src/lib.rs"),
        expected,
        "src/lib.rs: the default dependencies are not those of Cargo.toml"
    );
}

/// `version` padded to three parts: "2" -> "2.0.0", "1.22" -> "1.22.0".
fn full_version(version: &str) -> String {
    let mut parts: Vec<&str> = version.split('.').collect();
    parts.resize(3, "0");
    parts.join(".")
}

/// The version requirement of each `[dependencies]` entry, padded.
fn dependency_floors() -> BTreeMap<String, String> {
    manifest_tables()
        .remove("dependencies")
        .expect("Cargo.toml has a [dependencies] table")
        .into_iter()
        .map(|(name, value)| {
            let version = if value.starts_with('"') {
                strings(&value)[0].clone()
            } else {
                let at = value.find("version").expect("a version requirement");
                strings(&value[at..])[0].clone()
            };
            (name, full_version(version.trim_start_matches(['^', '='])))
        })
        .collect()
}

#[test]
fn readme_states_the_declared_rust_version_and_dependency_floors() {
    let start = README
        .find("\nRust ")
        .expect("README.md: no paragraph \"Rust <version> or newer\"")
        + 1;
    let paragraph = README[start..].split("\n\n").next().unwrap();
    let words: Vec<&str> = paragraph
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|word| !word.is_empty())
        .collect();

    let rust_version = manifest_tables()
        .remove("package")
        .unwrap()
        .into_iter()
        .find(|(key, _)| key == "rust-version")
        .map(|(_, value)| strings(&value)[0].clone())
        .expect("Cargo.toml declares a rust-version");
    assert_eq!(
        words[1], rust_version,
        "README.md: the Rust version is not Cargo.toml's rust-version"
    );

    let floors = dependency_floors();
    let mut stated = 0;
    for pair in words.windows(2) {
        if let Some(floor) = floors.get(pair[0]) {
            if pair[1].starts_with(|c: char| c.is_ascii_digit()) {
                assert_eq!(
                    &full_version(pair[1]),
                    floor,
                    "README.md states {} {}, Cargo.toml declares {floor}",
                    pair[0],
                    pair[1]
                );
                stated += 1;
            }
        }
    }
    assert!(
        stated > 0,
        "README.md: no dependency floor found in {paragraph:?}"
    );
}

#[test]
fn unlink_reads_intra_doc_links_as_plain_text() {
    assert_eq!(
        unlink("[`ErrGroup`] and [`x`](crate::y)"),
        "`ErrGroup` and `x`"
    );
    assert_eq!(unlink("[docs](https://docs.rs) (a)"), "docs (a)");
    assert_eq!(unlink("no links | here"), "no links | here");
}
