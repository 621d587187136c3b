//! `syncdeck demo`: a fresh embedded SQLite with the demo catalog (the engine and TUI come later).

use clap::Args;
use color_eyre::eyre::{Result, bail};

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many demo artists.
    #[arg(long, default_value_t = 200)]
    pub artists: usize,
}

pub async fn run(_global: &GlobalArgs, _args: DemoArgs) -> Result<i32> {
    bail!("demo is not built yet")
}
