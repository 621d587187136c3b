//! A gate every request of a provider passes just before it goes out, beside the in-process
//! limiter. The engine's `DbGate` (engine/budget_gate.rs) is the one in use: it paces all
//! syncdeck processes that share an API key through the database.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::error::ProviderError;

/// Waits for a request's turn and hears about throttles. `ProviderHttp` calls `acquire` once
/// per attempt, right before the attempt is sent, and `throttled` after each 429.
pub trait RequestGate: Send + Sync {
    /// Resolves when one request may go out; an error ends the request with it, unsent.
    fn acquire(&self) -> BoxFuture<'_, Result<(), ProviderError>>;
    /// The provider answered 429: hold every process back until `until`.
    fn throttled(&self, until: DateTime<Utc>);
    /// The provider answered with `status` (counted for every process's figures when it is
    /// 429 or 5xx).
    fn answered(&self, _status: u16) {}
}
