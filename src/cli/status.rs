//! `syncdeck status [--json]` (filled in by the catalog work).

use clap::Args;
use color_eyre::eyre::{Result, bail};

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// An array of artist objects instead of lines.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(_global: &GlobalArgs, _args: StatusArgs) -> Result<i32> {
    bail!("status is not built yet")
}
