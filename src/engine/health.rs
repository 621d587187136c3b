//! Whether the database can be used at all. Any part of the engine that meets a database
//! failure of the whole database (a full disk, an I/O error, a lost connection: a
//! [`DbFault`]) reports it here. A full disk or an I/O error makes the database unusable at
//! once: no retry can help until an operator acts. A lost connection is given a grace period
//! (three heartbeats): a probe on a connection of its own runs every half second, and if the
//! server answers again within the grace the engine carries on (its queue worker is restarted,
//! the runs cut short go back to the queue). The front ends wait on [`Health::unusable`] and
//! stop with a message naming the database and what to do.

use std::time::Duration;

use tokio::sync::watch;
// tokio's clock: the same as std's in a real run, and paused with the tests' clock.
use tokio::time::Instant;

use crate::store::DbFault;

/// An ongoing database failure.
#[derive(Debug, Clone)]
pub struct Outage {
    pub fault: DbFault,
    /// The first failure's text (what was being done, and the database's message).
    pub detail: String,
    pub since: Instant,
    /// When the database counts as unusable if the outage has not ended by then.
    pub declare_at: Instant,
}

/// The database is unusable: what, why, and what to do. The message names the database.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the database {database} is unusable: {}{} ({detail}); {advice}", fault.describe(), self.lasted())]
pub struct DatabaseUnusable {
    /// `sqlite /path/file.db` or `postgres host:port/db`.
    pub database: String,
    pub fault: DbFault,
    pub detail: String,
    /// What the operator should do, naming the path or the server.
    pub advice: String,
    /// How long the failure had lasted when the database was declared unusable.
    pub after: Duration,
}

impl DatabaseUnusable {
    fn lasted(&self) -> String {
        if self.fault.is_lasting() {
            String::new()
        } else {
            format!(
                " and it did not come back within {:.0} s",
                self.after.as_secs_f64()
            )
        }
    }
}

/// The engine's record of database failures; cheap to share.
#[derive(Debug)]
pub struct Health {
    state: watch::Sender<Option<Outage>>,
    /// How long a lost connection may last before the database counts as unusable.
    grace: Duration,
}

impl Health {
    pub fn new(grace: Duration) -> Health {
        Health {
            state: watch::channel(None).0,
            grace,
        }
    }

    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Records a failure of the whole database. Returns the outage when this failure started
    /// one (or made a lost connection a lasting fault), so the caller says so once.
    pub fn failed(&self, fault: DbFault, detail: &str) -> Option<Outage> {
        let now = Instant::now();
        let mut started = None;
        self.state.send_if_modified(|state| match state {
            // A full disk met during a lost connection: no point waiting any longer.
            Some(o) if fault.is_lasting() && !o.fault.is_lasting() => {
                o.fault = fault;
                o.detail = detail.to_string();
                o.declare_at = now;
                started = Some(o.clone());
                true
            }
            Some(_) => false,
            None => {
                let o = Outage {
                    fault,
                    detail: detail.to_string(),
                    since: now,
                    declare_at: if fault.is_lasting() {
                        now
                    } else {
                        now + self.grace
                    },
                };
                started = Some(o.clone());
                *state = Some(o);
                true
            }
        });
        started
    }

    /// The database answered again: a lost connection is over. A lasting fault ends only with
    /// [`Health::wrote`] (answering a `SELECT 1` says nothing about free space).
    pub fn answered(&self) -> Option<Outage> {
        self.end_if(|o| !o.fault.is_lasting())
    }

    /// A run's writes all went through: whatever the outage was, it is over.
    pub fn wrote(&self) -> Option<Outage> {
        self.end_if(|_| true)
    }

    fn end_if(&self, ends: impl Fn(&Outage) -> bool) -> Option<Outage> {
        let mut ended = None;
        self.state.send_if_modified(|state| {
            if state.as_ref().is_some_and(&ends) {
                ended = state.take();
                true
            } else {
                false
            }
        });
        ended
    }

    pub fn current(&self) -> Option<Outage> {
        self.state.borrow().clone()
    }

    /// Resolves with the outage once it has lasted until its `declare_at` without ending: at
    /// once for a full disk or an I/O error, after the grace for a lost connection.
    pub async fn unusable(&self) -> Outage {
        let mut rx = self.state.subscribe();
        loop {
            let current = rx.borrow_and_update().clone();
            match current {
                Some(o) if Instant::now() >= o.declare_at => return o,
                Some(o) => {
                    let left = o.declare_at.saturating_duration_since(Instant::now());
                    tokio::select! {
                        _ = tokio::time::sleep(left) => {}
                        changed = rx.changed() => if changed.is_err() {
                            return std::future::pending().await;
                        },
                    }
                }
                None => {
                    if rx.changed().await.is_err() {
                        return std::future::pending().await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_disk_is_unusable_at_once() {
        let h = Health::new(Duration::from_secs(15));
        assert!(h.failed(DbFault::DiskFull, "writing songs: full").is_some());
        assert!(
            h.failed(DbFault::DiskFull, "again").is_none(),
            "reported once"
        );
        let o = tokio::time::timeout(Duration::from_millis(1), h.unusable())
            .await
            .expect("no wait for a lasting fault");
        assert_eq!(o.fault, DbFault::DiskFull);
        assert_eq!(o.detail, "writing songs: full");
        assert!(
            h.answered().is_none(),
            "a SELECT 1 does not end a full disk"
        );
        assert!(h.wrote().is_some());
        assert!(h.current().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_connection_is_unusable_only_after_the_grace() {
        let h = Health::new(Duration::from_secs(3));
        h.failed(DbFault::ConnectionLost, "gone");
        assert!(
            tokio::time::timeout(Duration::from_millis(2900), h.unusable())
                .await
                .is_err(),
            "still within the grace"
        );
        let o = tokio::time::timeout(Duration::from_millis(200), h.unusable())
            .await
            .expect("declared after the grace");
        assert_eq!(o.fault, DbFault::ConnectionLost);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_back_within_the_grace_is_ridden_out() {
        let h = Health::new(Duration::from_secs(3));
        h.failed(DbFault::ConnectionLost, "gone");
        let waiter = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert!(h.answered().is_some());
        };
        let declared = tokio::time::timeout(Duration::from_secs(60), async {
            tokio::join!(h.unusable(), waiter).0
        })
        .await;
        assert!(declared.is_err(), "never declared once the server answered");
        // A new failure starts a new grace.
        h.failed(DbFault::ConnectionLost, "gone again");
        assert!(h.current().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_disk_during_a_lost_connection_ends_the_wait() {
        let h = Health::new(Duration::from_secs(30));
        h.failed(DbFault::ConnectionLost, "gone");
        assert!(h.failed(DbFault::DiskFull, "full").is_some());
        let o = tokio::time::timeout(Duration::from_millis(1), h.unusable())
            .await
            .expect("declared at once");
        assert_eq!(o.fault, DbFault::DiskFull);
    }
}
