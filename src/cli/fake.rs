//! `syncdeck fake` (being built).

use clap::Args;
use color_eyre::eyre::{Result, bail};

#[derive(Debug, Args)]
pub struct FakeArgs {}

pub async fn run(_args: FakeArgs) -> Result<i32> {
    bail!("the fake providers are not built yet")
}
