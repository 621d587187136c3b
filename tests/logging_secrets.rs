//! Logs go to a file under the data dir, and no key reaches it, even at trace level with keys
//! refused by a (fake) provider.

use std::process::Command;

use syncdeck::fake::{self, FakeConfig};

const CANARY_TM: &str = "tmCANARYa1b2c3d4e5f6g7h8";
const CANARY_SP: &str = "spCANARYz9y8x7w6v5u4t3s2";
const CANARY_SF: &str = "sfCANARYq1w2e3r4t5y6u7i8";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_carry_no_key() {
    let server = fake::start(FakeConfig {
        artists: 10,
        ..Default::default()
    })
    .await
    .expect("fake starts");
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("l.db").display());
    let bin = env!("CARGO_BIN_EXE_syncdeck");
    let run = |args: &[&str]| {
        Command::new(bin)
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("SYNCDECK_DATA_DIR", dir.path().join("data"))
            .env("DATABASE_URL", &db)
            .env("SYNCDECK_LOG", "trace")
            .env("TICKETMASTER_API_KEY", CANARY_TM)
            .env("SPOTIFY_CLIENT_ID", "someid")
            .env("SPOTIFY_CLIENT_SECRET", CANARY_SP)
            .env("SETLISTFM_API_KEY", CANARY_SF)
            .env("TICKETMASTER_BASE_URL", server.ticketmaster_base_url())
            .env("SPOTIFY_API_BASE_URL", server.spotify_api_base_url())
            .env(
                "SPOTIFY_ACCOUNTS_BASE_URL",
                server.spotify_accounts_base_url(),
            )
            .env("SETLISTFM_BASE_URL", server.setlistfm_base_url())
            .output()
            .expect("run syncdeck")
    };
    assert!(run(&["migrate"]).status.success());
    let out = run(&["env", "check", "--json"]);
    assert!(!out.status.success(), "wrong keys must fail the check");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in ["ticketmaster", "spotify", "setlistfm"] {
        let c = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap();
        assert_eq!(c["status"], "invalid", "{c}");
    }
    let logs = dir.path().join("data").join("logs");
    let mut text = String::new();
    for entry in std::fs::read_dir(&logs).expect("a log directory under the data dir") {
        text.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert!(text.contains("syncdeck started"), "{text}");
    assert!(
        text.contains("request failed"),
        "the refused requests are logged: {text}"
    );
    let everything = format!(
        "{text}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for canary in [CANARY_TM, CANARY_SP, CANARY_SF, "CANARY"] {
        assert!(!everything.contains(canary), "{canary} leaked");
    }
    server.shutdown().await;
}

/// Log files do not pile up: with 20 old daily files in the log directory, a command leaves
/// the newest `LOG_FILES_KEPT` (its own among them) and deletes the rest; other files stay.
#[test]
fn old_log_files_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("data").join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    for day in 1..=20 {
        std::fs::write(logs.join(format!("syncdeck.log.2026-10-{day:02}")), "old\n").unwrap();
    }
    std::fs::write(logs.join("notes.txt"), "mine\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_syncdeck"))
        .arg("migrate")
        .current_dir(dir.path())
        .env_clear()
        .env("SYNCDECK_DATA_DIR", dir.path().join("data"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("l.db").display()),
        )
        .output()
        .expect("run syncdeck");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let kept = names
        .iter()
        .filter(|n| n.starts_with("syncdeck.log"))
        .count();
    assert_eq!(kept, syncdeck::logging::LOG_FILES_KEPT, "{names:?}");
    assert!(names.iter().any(|n| n == "notes.txt"), "{names:?}");
}
