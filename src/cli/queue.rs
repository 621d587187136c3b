//! `syncdeck queue pause|resume|status [--json]`: the queue's pause switch, shared by every
//! process on the database. Paused, no worker starts a run (running ones finish); requests
//! still queue up and start once it is resumed.

use clap::Subcommand;
use color_eyre::eyre::Result;

use super::GlobalArgs;
use crate::store::queue_state::Paused;

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Stop every worker on this database from starting runs (running ones finish).
    Pause,
    /// Let the workers start runs again.
    Resume,
    /// Whether the queue is paused, since when and by whom.
    Status {
        /// One JSON object: {"paused": bool, "since": time|null, "by": text|null}.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(global: &GlobalArgs, command: QueueCommand) -> Result<i32> {
    let (_, store) = super::open_migrated(global, "").await?;
    match command {
        QueueCommand::Pause => {
            store
                .set_queue_paused(true, &crate::engine::operator("syncdeck queue"))
                .await?;
            println!(
                "the queue is paused: no worker starts a sync (running ones finish) until `syncdeck queue resume`"
            );
        }
        QueueCommand::Resume => {
            store
                .set_queue_paused(false, &crate::engine::operator("syncdeck queue"))
                .await?;
            println!("the queue is resumed: workers start queued syncs again");
        }
        QueueCommand::Status { json } => {
            let paused = store.queue_paused().await?;
            if json {
                let (since, by) = match &paused {
                    Some(Paused { since, by }) => (since.map(|t| t.to_rfc3339()), by.clone()),
                    None => (None, None),
                };
                println!(
                    "{}",
                    serde_json::json!({"paused": paused.is_some(), "since": since, "by": by})
                );
            } else {
                match paused {
                    Some(p) => println!(
                        "paused since {} by {}",
                        p.since
                            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                            .unwrap_or_else(|| "an unknown time".into()),
                        crate::text::sanitize(p.by.as_deref().unwrap_or("someone"))
                    ),
                    None => println!("running"),
                }
            }
        }
    }
    store.close().await;
    Ok(0)
}
