//! `syncdeck seed --demo [--artists N]` (filled in by the catalog work).

use clap::Args;
use color_eyre::eyre::{Result, bail};

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Insert artists from the demo catalog.
    #[arg(long)]
    pub demo: bool,
    /// How many demo artists.
    #[arg(long, default_value_t = 200)]
    pub artists: usize,
}

pub async fn run(_global: &GlobalArgs, _args: SeedArgs) -> Result<i32> {
    bail!("seed is not built yet")
}
