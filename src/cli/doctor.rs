//! `syncdeck doctor [--fix]` (filled in by the doctor work).

use clap::Args;
use color_eyre::eyre::{Result, bail};

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Apply the proposed fixes (shows the SQL and asks first).
    #[arg(long)]
    pub fix: bool,
    /// With --fix: do not ask.
    #[arg(long, requires = "fix")]
    pub yes: bool,
}

pub async fn run(_global: &GlobalArgs, _args: DoctorArgs) -> Result<i32> {
    bail!("doctor is not built yet")
}
