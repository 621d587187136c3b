//! Per-key API budgets shared by every syncdeck process on the same database
//! (`syncdeck_api_budgets`), so that N processes together stay under a provider's per-second
//! rate and daily quota.
//!
//! Each request books a slot in one short transaction, GCRA-style: the slot is the later of the
//! key's `next_slot_at`, `now` and `throttled_until`, and `next_slot_at` moves on by one interval.
//! The caller then sleeps until its slot. Slots are booked at most [`MAX_BOOK_AHEAD`] ahead, so a
//! process that books and then crashes wastes a bounded few slots, never the future.
//!
//! The daily window is rolling: it starts at the first request after the previous window ended
//! and lasts 24 h (Ticketmaster's rule, and the same one the in-process `Budget` counts by), not
//! at UTC midnight.
//!
//! Times are decided by the callers' clocks (`now`), written in milliseconds. Machines that share
//! a key should run NTP: a skew of a few tens of milliseconds only shifts when a slot is used.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::time::{from_db, to_db};
use super::{Backend, Store, StoreError};

/// How far ahead of `now` a slot may be booked; past it, [`take_slot`] answers
/// [`SlotGrant::TooFar`] (or [`SlotGrant::Throttled`]) and books nothing.
pub const MAX_BOOK_AHEAD: Duration = Duration::from_secs(60);

/// The length of one daily window.
pub const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// One shared budget: which row, and the limits it enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetKey {
    /// `provider:xxxxxxxx`, the x's a hash of the API key: never the key itself, since this
    /// value is stored in the database and shown on the console.
    pub key: String,
    pub provider: &'static str,
    /// Time between two requests (200 ms for 5 req/s).
    pub interval: Duration,
    /// Requests per daily window; `None` for no daily limit (stored as 0).
    pub day_limit: Option<u32>,
}

impl BudgetKey {
    /// A key for `provider`'s credential `secret` (the API key; for Spotify the client id).
    /// Processes with the same credential share one row; different credentials get different
    /// rows, each with its own quota, as the providers count them.
    pub fn for_secret(
        provider: &'static str,
        secret: &str,
        interval: Duration,
        day_limit: Option<u32>,
    ) -> BudgetKey {
        BudgetKey {
            key: format!("{provider}:{}", short_hash(secret)),
            provider,
            interval,
            day_limit,
        }
    }
}

/// Eight hex digits of a 64-bit FNV-1a over the secret: enough to tell keys apart, far too few
/// to recover or confirm the key from. Stable across builds and machines (unlike std's
/// `DefaultHasher`, whose algorithm may change), since every process must derive the same row.
pub fn short_hash(secret: &str) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for byte in b"syncdeck-budget:".iter().chain(secret.as_bytes()) {
        h ^= u64::from(*byte);
        h = h.wrapping_mul(PRIME);
    }
    // Fold the high half in, so the eight digits depend on every bit of the hash.
    format!("{:08x}", ((h >> 32) ^ h) as u32)
}

/// The answer to a request for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotGrant {
    /// Booked: send at `slot` (sleep until then). `day_used` includes this request.
    At {
        slot: DateTime<Utc>,
        day_used: u32,
        day_limit: Option<u32>,
    },
    /// The daily limit is reached: no request until `resets_at`. Nothing was booked.
    Exhausted {
        resets_at: DateTime<Utc>,
        day_used: u32,
        day_limit: u32,
    },
    /// The queue of booked slots reaches past [`MAX_BOOK_AHEAD`]: nothing was booked; ask again
    /// at `retry_at`, when the slot would be close enough.
    TooFar { retry_at: DateTime<Utc> },
    /// The provider throttled this key (a 429) until more than [`MAX_BOOK_AHEAD`] from now.
    /// Nothing was booked.
    Throttled { until: DateTime<Utc> },
}

/// One row, for the console's header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BudgetRow {
    pub key: String,
    pub provider: String,
    /// Requests in the current window (0 once the window has ended).
    pub day_used: u32,
    pub day_limit: Option<u32>,
    /// When the current window ends; `None` once it has ended (the next request starts one).
    pub resets_at: Option<DateTime<Utc>>,
    /// Set while a 429 holds the key back.
    pub throttled_until: Option<DateTime<Utc>>,
    /// 429 and 5xx answers to this key so far, counted by every process (only ever grow).
    pub answers_429: u64,
    pub answers_5xx: u64,
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Truncated to milliseconds, the precision the store keeps, so a slot handed out equals the
/// one stored and spacing stays exact.
fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

fn limit_to_db(limit: Option<u32>) -> i32 {
    limit.map_or(0, |l| i32::try_from(l).unwrap_or(i32::MAX))
}

fn limit_from_db(limit: i32) -> Option<u32> {
    u32::try_from(limit).ok().filter(|l| *l > 0)
}

fn used_from_db(used: i32) -> u32 {
    u32::try_from(used).unwrap_or(0)
}

fn parse_ts(text: &str, column: &str, key: &str) -> Result<DateTime<Utc>, StoreError> {
    from_db(text).ok_or_else(|| {
        StoreError::Invalid(format!(
            "syncdeck_api_budgets.{column} of {key} is not a timestamp: {text:?}"
        ))
    })
}

type BudgetState = (String, i32, String, Option<String>, i32);

/// The daily limit a row holds for the rest of its day: the strictest of what it holds and
/// what this process uses (`None`: no limit). Processes started with different limits for one
/// key then agree on one figure instead of each writing its own in turn (the console's header
/// flipped between them), and none overspends what another was told; a new day starts from
/// the limit of the process that opens it.
fn strictest(stored: Option<u32>, mine: Option<u32>) -> Option<u32> {
    match (stored, mine) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Books the next request slot of `key` at or after `now`, in one short transaction (row lock
/// on Postgres, `BEGIN IMMEDIATE` on SQLite), so concurrent processes never get the same slot.
pub async fn take_slot(
    store: &Store,
    key: &BudgetKey,
    now: DateTime<Utc>,
) -> Result<SlotGrant, StoreError> {
    let now = millis(now);
    let ctx = |what: &str| format!("{what} the API budget {}", key.key);
    let insert = crate::sql!(
        "INSERT INTO syncdeck_api_budgets (budget_key, provider, day_started_at, day_used, day_limit, next_slot_at, updated_at) \
         VALUES ($1, $2, $3::timestamptz, 0, $4, $3::timestamptz, $3::timestamptz) \
         ON CONFLICT (budget_key) DO NOTHING"
    );
    let select_pg = "SELECT day_started_at::text, day_used, next_slot_at::text, throttled_until::text, day_limit \
         FROM syncdeck_api_budgets WHERE budget_key = $1 FOR UPDATE";
    // SQLite has no FOR UPDATE; BEGIN IMMEDIATE already holds the database's write lock.
    let select_sqlite = "SELECT day_started_at, day_used, next_slot_at, throttled_until, day_limit \
         FROM syncdeck_api_budgets WHERE budget_key = $1";
    let update = crate::sql!(
        "UPDATE syncdeck_api_budgets SET day_started_at = $2::timestamptz, day_used = $3, day_limit = $4, \
           next_slot_at = $5::timestamptz, updated_at = $6::timestamptz \
         WHERE budget_key = $1"
    );

    let mut tx = store.begin().await?;
    let now_text = to_db(now);
    let (started, used, next, throttled, stored_limit): BudgetState = crate::with_tx!(&mut tx, c, b => {
        sqlx::query(insert.text(b))
            .bind(&key.key).bind(key.provider).bind(&now_text).bind(limit_to_db(key.day_limit))
            .execute(&mut *c).await
            .map_err(|e| StoreError::query(ctx("creating"), e))?;
        let select = if b == Backend::Postgres { select_pg } else { select_sqlite };
        sqlx::query_as::<_, BudgetState>(select)
            .bind(&key.key)
            .fetch_one(&mut *c).await
            .map_err(|e| StoreError::query(ctx("reading"), e))?
    });
    let mut day_started = parse_ts(&started, "day_started_at", &key.key)?;
    let mut day_used = used_from_db(used);
    let next_slot = parse_ts(&next, "next_slot_at", &key.key)?;
    let throttled_until = match throttled.as_deref() {
        Some(t) => Some(parse_ts(t, "throttled_until", &key.key)?),
        None => None,
    };

    let mut day_limit = strictest(limit_from_db(stored_limit), key.day_limit);
    if now - day_started >= chrono(DAY) {
        day_started = now;
        day_used = 0;
        day_limit = key.day_limit;
    }
    let limit_db = limit_to_db(day_limit);
    let ahead = chrono(MAX_BOOK_AHEAD);
    let grant = if let Some(limit) = day_limit.filter(|l| day_used >= *l) {
        SlotGrant::Exhausted {
            resets_at: day_started + chrono(DAY),
            day_used,
            day_limit: limit,
        }
    } else if let Some(until) = throttled_until.filter(|t| *t - now > ahead) {
        SlotGrant::Throttled { until }
    } else {
        let slot = next_slot.max(now).max(throttled_until.unwrap_or(now));
        if slot - now > ahead {
            SlotGrant::TooFar {
                retry_at: slot - ahead,
            }
        } else {
            day_used += 1;
            crate::with_tx!(&mut tx, c, b => {
                sqlx::query(update.text(b))
                    .bind(&key.key)
                    .bind(to_db(day_started))
                    .bind(i32::try_from(day_used).unwrap_or(i32::MAX))
                    .bind(limit_db)
                    .bind(to_db(slot + chrono(key.interval)))
                    .bind(&now_text)
                    .execute(&mut *c).await
                    .map(|_| ())
                    .map_err(|e| StoreError::query(ctx("booking a slot of"), e))?
            });
            SlotGrant::At {
                slot,
                day_used,
                day_limit,
            }
        }
    };
    // Committed in every case: a new row is kept even when nothing was booked.
    tx.commit().await?;
    Ok(grant)
}

/// Records that the provider throttled `key` (a 429) until `until`, so every process's next slot
/// comes after it. Only ever extends a throttle: a shorter one from a late 429 never cuts a
/// longer one short.
pub async fn set_throttled(
    store: &Store,
    key: &BudgetKey,
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Round up, so the throttle never ends before `until`.
    let until = millis(until + chrono::Duration::microseconds(999));
    let now = to_db(millis(Utc::now()));
    // All stored times have the same `to_db` text form, so SQLite's text comparison orders them.
    let q = crate::sql!(
        "INSERT INTO syncdeck_api_budgets (budget_key, provider, day_started_at, day_used, day_limit, next_slot_at, throttled_until, updated_at) \
         VALUES ($1, $2, $4::timestamptz, 0, $5, $4::timestamptz, $3::timestamptz, $4::timestamptz) \
         ON CONFLICT (budget_key) DO UPDATE SET \
           throttled_until = CASE WHEN syncdeck_api_budgets.throttled_until IS NULL \
                                    OR syncdeck_api_budgets.throttled_until < EXCLUDED.throttled_until \
                             THEN EXCLUDED.throttled_until ELSE syncdeck_api_budgets.throttled_until END, \
           updated_at = EXCLUDED.updated_at"
    );
    crate::with_pool!(&store.db, pool, b => {
        sqlx::query(q.text(b))
            .bind(&key.key).bind(key.provider).bind(to_db(until)).bind(&now)
            .bind(limit_to_db(key.day_limit))
            .execute(pool).await.map(|_| ())
    })
    .map_err(|e| {
        StoreError::query(
            format!("recording a throttle of the API budget {}", key.key),
            e,
        )
    })?;
    Ok(())
}

/// Counts a 429 or 5xx answer to `key` (any other status counts nothing), for every
/// process's figures.
pub async fn count_answer(store: &Store, key: &BudgetKey, status: u16) -> Result<(), StoreError> {
    let (throttled, server_error): (i64, i64) = match status {
        429 => (1, 0),
        500..=599 => (0, 1),
        _ => return Ok(()),
    };
    let now = to_db(millis(Utc::now()));
    let q = crate::sql!(
        "INSERT INTO syncdeck_api_budgets (budget_key, provider, day_started_at, day_used, day_limit, next_slot_at, updated_at, answers_429, answers_5xx) \
         VALUES ($1, $2, $3::timestamptz, 0, $4, $3::timestamptz, $3::timestamptz, $5, $6) \
         ON CONFLICT (budget_key) DO UPDATE SET \
           answers_429 = syncdeck_api_budgets.answers_429 + EXCLUDED.answers_429, \
           answers_5xx = syncdeck_api_budgets.answers_5xx + EXCLUDED.answers_5xx"
    );
    crate::with_pool!(&store.db, pool, b => {
        sqlx::query(q.text(b))
            .bind(&key.key).bind(key.provider).bind(&now)
            .bind(limit_to_db(key.day_limit))
            .bind(throttled).bind(server_error)
            .execute(pool).await.map(|_| ())
    })
    .map_err(|e| {
        StoreError::query(
            format!("counting an HTTP {status} of the API budget {}", key.key),
            e,
        )
    })
}

/// Every budget as of now, for the console's header.
pub async fn snapshot(store: &Store) -> Result<Vec<BudgetRow>, StoreError> {
    snapshot_at(store, Utc::now()).await
}

/// Every budget as of `now`: an ended window reads as 0 used, a past throttle as none.
pub async fn snapshot_at(store: &Store, now: DateTime<Utc>) -> Result<Vec<BudgetRow>, StoreError> {
    let q = crate::sql!(
        "SELECT budget_key, provider, day_used, day_limit, day_started_at::text, throttled_until::text, \
         answers_429, answers_5xx \
         FROM syncdeck_api_budgets ORDER BY budget_key"
    );
    type Row = (String, String, i32, i32, String, Option<String>, i64, i64);
    let rows: Vec<Row> = crate::with_pool!(&store.db, pool, b => {
        sqlx::query_as::<_, Row>(q.text(b)).fetch_all(pool).await
    })
    .map_err(|e| StoreError::query("reading the API budgets", e))?;
    rows.into_iter()
        .map(
            |(key, provider, used, limit, started, throttled, a429, a5xx)| {
                let started = parse_ts(&started, "day_started_at", &key)?;
                let resets_at = Some(started + chrono(DAY)).filter(|r| *r > now);
                let throttled_until = match throttled.as_deref() {
                    Some(t) => Some(parse_ts(t, "throttled_until", &key)?).filter(|t| *t > now),
                    None => None,
                };
                Ok(BudgetRow {
                    day_used: if resets_at.is_some() {
                        used_from_db(used)
                    } else {
                        0
                    },
                    day_limit: limit_from_db(limit),
                    resets_at,
                    throttled_until,
                    answers_429: u64::try_from(a429).unwrap_or(0),
                    answers_5xx: u64::try_from(a5xx).unwrap_or(0),
                    key,
                    provider,
                })
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_a_short_stable_hash_never_the_secret() {
        let k = BudgetKey::for_secret(
            "ticketmaster",
            "tmSECRETa1b2c3",
            Duration::from_millis(200),
            Some(5000),
        );
        assert!(k.key.starts_with("ticketmaster:"));
        assert_eq!(k.key.len(), "ticketmaster:".len() + 8);
        assert!(!k.key.contains("tmSECRETa1b2c3"));
        assert_eq!(short_hash("tmSECRETa1b2c3"), short_hash("tmSECRETa1b2c3"));
        assert_ne!(short_hash("tmSECRETa1b2c3"), short_hash("tmSECRETa1b2c4"));
    }

    #[test]
    fn limits_round_trip_with_zero_as_none() {
        assert_eq!(limit_from_db(limit_to_db(None)), None);
        assert_eq!(limit_from_db(limit_to_db(Some(1440))), Some(1440));
    }
}
