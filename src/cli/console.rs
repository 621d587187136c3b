//! `syncdeck` with no command: the console on the configured database and providers.

use color_eyre::eyre::{Result, WrapErr};

use super::GlobalArgs;
use crate::engine::clients::ClientSettings;
use crate::engine::{Clients, Engine, EngineSettings};

pub async fn run(global: &GlobalArgs) -> Result<i32> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        eprintln!(
            "syncdeck's console needs a terminal; for scripts use `syncdeck status`, `syncdeck sync` or `syncdeck --help`"
        );
        return Ok(2);
    }
    let (config, store) = super::open_migrated(global, " (or try `syncdeck demo`)").await?;
    let clients = Clients::from_config(&config, &store, &ClientSettings::default());
    let engine = Engine::new(store.clone(), clients, EngineSettings::default());
    engine
        .start()
        .await
        .wrap_err("cannot start the sync engine")?;
    let mut settings = crate::tui::settings::load(
        crate::tui::settings::default_path().as_deref(),
        config.no_color || global.no_color,
    );
    let scheduler = super::serve::default_scheduler_settings(&mut settings.problems);
    let result = crate::tui::run(
        engine,
        crate::tui::TuiOptions {
            theme: settings.theme,
            keys: settings.keys,
            notices: settings.problems,
            config,
            mouse: settings.mouse,
            clients: ClientSettings::default(),
            scheduler,
        },
    )
    .await;
    store.close().await;
    result
}
