//! The shared API budget as a request gate: [`DbGate`] paces all syncdeck processes that share
//! an API key through the database (`store::budgets`), so adding machines never adds 429s or
//! overspends the daily quota. It lives in the engine, which knows both the store and the
//! providers; `ProviderHttp` sees only the `RequestGate` trait.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::providers::error::{Provider, ProviderError};
use crate::providers::gate::RequestGate;
use crate::providers::http::HttpSettings;
use crate::store::Store;
use crate::store::budgets::{self, BudgetKey, SlotGrant};

/// Longest wait for the database per call: past it the request goes out on the local limiter.
const DB_TIMEOUT: Duration = Duration::from_secs(5);

/// After a database failure, how long requests skip the shared budget before trying it again,
/// so an outage costs one timeout per period rather than one per request.
const BYPASS_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// The shared budget of one API key, in `syncdeck_api_budgets`.
pub struct DbGate {
    store: Store,
    key: BudgetKey,
    provider: Provider,
    /// Set once a database failure has been logged as a warning, cleared when it works again.
    warned: AtomicBool,
    bypass_until: Mutex<Option<tokio::time::Instant>>,
}

impl std::fmt::Debug for DbGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbGate")
            .field("key", &self.key)
            .field("store", &self.store.describe())
            .finish()
    }
}

impl DbGate {
    pub fn new(store: Store, provider: Provider, key: BudgetKey) -> DbGate {
        DbGate {
            store,
            key,
            provider,
            warned: AtomicBool::new(false),
            bypass_until: Mutex::new(None),
        }
    }

    /// The gate of `provider`'s credential `secret` (the API key; Spotify's client id) at the
    /// rate and daily limit of `settings`. Only a short hash of `secret` is kept.
    pub fn for_provider(
        store: Store,
        provider: Provider,
        secret: &str,
        settings: &HttpSettings,
    ) -> DbGate {
        let key = BudgetKey::for_secret(
            provider.label(),
            secret,
            settings.rate.interval(),
            settings
                .daily_limit
                .map(|l| u32::try_from(l).unwrap_or(u32::MAX)),
        );
        DbGate::new(store, provider, key)
    }

    pub fn key(&self) -> &BudgetKey {
        &self.key
    }

    fn bypass(&self) -> std::sync::MutexGuard<'_, Option<tokio::time::Instant>> {
        // Only an instant is kept under the lock: a panic elsewhere leaves it usable.
        self.bypass_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bypassing(&self) -> bool {
        let mut until = self.bypass();
        match *until {
            Some(t) if tokio::time::Instant::now() < t => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    fn db_failed(&self, why: &str) {
        *self.bypass() = Some(tokio::time::Instant::now() + BYPASS_AFTER_FAILURE);
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(provider = %self.provider, budget = %self.key.key, "the shared API budget is unavailable, pacing by this process alone: {why}");
        } else {
            tracing::debug!(provider = %self.provider, budget = %self.key.key, "shared API budget still unavailable: {why}");
        }
    }

    fn db_ok(&self) {
        if self.warned.swap(false, Ordering::Relaxed) {
            tracing::info!(provider = %self.provider, budget = %self.key.key, "the shared API budget is available again");
        }
    }
}

/// Sleeps until the wall-clock time `at` (at once when it has passed).
async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

impl RequestGate for DbGate {
    fn acquire(&self) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            loop {
                // A database that fails or hangs must not stall the sync: the in-process limiter
                // still paces this process, and the provider's 429s (obeyed by the HTTP layer)
                // catch what the processes together overspend. Stopping every sync because the
                // budget table is briefly unreachable would be worse than a few early requests.
                if self.bypassing() {
                    return Ok(());
                }
                let now = Utc::now();
                let grant = match tokio::time::timeout(
                    DB_TIMEOUT,
                    budgets::take_slot(&self.store, &self.key, now),
                )
                .await
                {
                    Ok(Ok(grant)) => grant,
                    Ok(Err(e)) => {
                        self.db_failed(&e.to_string());
                        return Ok(());
                    }
                    Err(_) => {
                        self.db_failed(&format!("no answer within {} s", DB_TIMEOUT.as_secs()));
                        return Ok(());
                    }
                };
                self.db_ok();
                match grant {
                    SlotGrant::At { slot, .. } => {
                        sleep_until(slot).await;
                        return Ok(());
                    }
                    SlotGrant::Exhausted { resets_at, .. } => {
                        return Err(ProviderError::QuotaExhausted {
                            provider: self.provider,
                            resets_at: Some(resets_at),
                        });
                    }
                    // Other processes have booked the next minute: wait until a slot would be
                    // close enough, then ask again.
                    SlotGrant::TooFar { retry_at } => {
                        sleep_until(retry_at).await;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    // As if the provider had answered 429 with a Retry-After longer than the
                    // HTTP layer sleeps for: the request ends rate-limited.
                    SlotGrant::Throttled { until } => {
                        return Err(ProviderError::RateLimited {
                            provider: self.provider,
                            retry_after: Some((until - now).to_std().unwrap_or_default()),
                        });
                    }
                }
            }
        })
    }

    fn throttled(&self, until: DateTime<Utc>) {
        // Recorded in the background: this process's own retry already waits for the throttle,
        // the row is for the others.
        self.share("a 429 throttle", move |store, key| async move {
            budgets::set_throttled(&store, &key, until).await
        });
    }

    fn answered(&self, status: u16) {
        if status == 429 || (500..600).contains(&status) {
            self.share("a refused answer's count", move |store, key| async move {
                budgets::count_answer(&store, &key, status).await
            });
        }
    }
}

impl DbGate {
    /// Writes `what` to the shared row in the background, within the database timeout; a
    /// failure is a warning (the sync goes on without it).
    fn share<F, Fut>(&self, what: &'static str, write: F)
    where
        F: FnOnce(Store, BudgetKey) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), crate::store::StoreError>> + Send,
    {
        // Called from `send`, inside the runtime; without one there is nothing to share with.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, key, provider) = (self.store.clone(), self.key.clone(), self.provider);
        runtime.spawn(async move {
            let label = key.key.clone();
            let outcome = tokio::time::timeout(DB_TIMEOUT, write(store, key)).await;
            let why = match outcome {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {} s", DB_TIMEOUT.as_secs()),
            };
            tracing::warn!(provider = %provider, budget = %label, "cannot share {what} with other processes: {why}");
        });
    }
}
