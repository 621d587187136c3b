//! syncdeck: the operations console and sync engine for the concert/setlist catalog.
//!
//! Layers, each using only the ones above it (design.md):
//! 1. [`config`]: environment, `.env` and flags into one `Config`; secrets that cannot be printed.
//! 2. [`store`]: SQLite (embedded default) or Postgres, migrations, upserts on natural keys.
//!    Below it and the providers: [`rows`], the catalog rows the mappers produce and the store
//!    writes, so neither imports the other.
//! 3. `providers`: the three API clients on one HTTP layer; they import neither the store nor
//!    the checks (the shared budget's gate is the engine's, the live probes are the checks').
//! 4. `engine`: the per-artist pipeline on apalis.
//! 5. [`cli`] and `tui`: the two front ends.
//! 6. `fake`: simulated providers; shares only the [`catalog`] generator.

pub mod catalog;
pub mod checks;
pub mod cli;
pub mod config;
pub mod engine;
pub mod fake;
pub mod logging;
pub mod providers;
pub mod rows;
pub mod shutdown;
pub mod store;
pub mod text;
pub mod tui;
