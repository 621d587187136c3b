//! `syncdeck completions SHELL` prints a completion script; a wrong shell is a usage error.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_syncdeck");

#[test]
fn completions_for_each_shell_name_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        for word in ["syncdeck", "sync", "demo", "database-url"] {
            assert!(text.contains(word), "{shell} completions lack {word}");
        }
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error_that_lists_the_shells() {
    let out = Command::new(BIN)
        .args(["completions", "nosh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("possible values: bash"), "{err}");
}

/// A subcommand's help keeps its own options apart from the global ones, and shows examples.
#[test]
fn help_separates_global_options_and_gives_examples() {
    for cmd in ["sync", "serve", "status", "demo", "queue"] {
        let out = Command::new(BIN).args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{cmd}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Global options:"), "{cmd}: {text}");
        assert!(text.contains("Examples:"), "{cmd}: {text}");
        let global = text.find("Global options:").unwrap_or(0);
        // --database-url is listed under the global heading only.
        assert!(
            text.find("--database-url").is_some_and(|at| at > global),
            "{cmd}: {text}"
        );
    }
}
