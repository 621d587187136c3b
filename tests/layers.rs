//! The layers of design.md, checked on the sources: each layer imports only the ones it may.
//! A `use crate::…` (or a `crate::…` path anywhere in the code) of a forbidden layer fails with
//! the file and the line.

use std::fs;
use std::path::{Path, PathBuf};

/// (layer, the layers it must not name)
const RULES: &[(&str, &[&str])] = &[
    (
        "rows",
        &[
            "store",
            "providers",
            "engine",
            "checks",
            "cli",
            "tui",
            "fake",
        ],
    ),
    (
        "config",
        &[
            "store",
            "providers",
            "engine",
            "checks",
            "cli",
            "tui",
            "fake",
        ],
    ),
    (
        "store",
        &["providers", "engine", "checks", "cli", "tui", "fake"],
    ),
    (
        "providers",
        &["store", "engine", "checks", "cli", "tui", "fake"],
    ),
    ("engine", &["checks", "cli", "tui", "fake"]),
    (
        "fake",
        &[
            "providers",
            "store",
            "engine",
            "checks",
            "cli",
            "tui",
            "config",
        ],
    ),
];

fn sources(layer: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let file = root.join(format!("{layer}.rs"));
    let dir = root.join(layer);
    let mut out = Vec::new();
    if file.is_file() {
        out.push(file);
    }
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// Code lines only: comments and doc comments may name any layer.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_start()))
        .filter(|(_, l)| !l.starts_with("//"))
}

#[test]
fn every_layer_imports_only_the_layers_it_may() {
    let mut broken = Vec::new();
    for (layer, forbidden) in RULES {
        let files = sources(layer);
        assert!(
            !files.is_empty(),
            "no sources found for the layer `{layer}`"
        );
        for file in files {
            let text = fs::read_to_string(&file).expect("read a source file");
            for (n, line) in code_lines(&text) {
                for other in *forbidden {
                    if line.contains(&format!("crate::{other}::"))
                        || line.contains(&format!("crate::{other};"))
                        || line.contains(&format!("crate::{other}}}"))
                        || line.contains(&format!("crate::{{{other}"))
                    {
                        broken.push(format!(
                            "{}:{n}: `{layer}` uses `{other}`: {line}",
                            file.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn the_check_finds_a_forbidden_import() {
    let sample =
        "use std::fmt;\n// crate::store:: in a comment is fine\nuse crate::store::Store;\n";
    let hits: Vec<usize> = code_lines(sample)
        .filter(|(_, l)| l.contains("crate::store::"))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(hits, [3]);
}

/// One TLS crypto library: rustls on aws-lc-rs for reqwest and sqlx alike. `ring` came in
/// through apalis's default `tokio-comp` (sqlx's `tls-rustls`); this fails if anything brings
/// it back into this platform's build. (Cargo.lock is no guide: it lists every platform's
/// packages, `ring` among them for targets this tool is not built for.)
#[test]
fn one_tls_crypto_library_is_linked() {
    let tree = |package: &str| {
        let out = std::process::Command::new(env!("CARGO"))
            .args(["tree", "--offline", "-e", "normal", "-i", package])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo runs");
        assert!(out.status.success(), "cargo tree -i {package} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        tree("aws-lc-rs").starts_with("aws-lc-rs"),
        "rustls's provider is aws-lc-rs"
    );
    assert_eq!(
        tree("ring"),
        "",
        "`ring` is linked again: a second TLS crypto library (see Cargo.toml's apalis lines)"
    );
}
