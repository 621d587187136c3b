//! Seeding artists from the demo catalog (`syncdeck seed --demo`, `syncdeck demo`).
//!
//! Only what an operator would enter by hand goes in: name, Ticketmaster id, and for some
//! artists the Spotify id. The MusicBrainz id is left null on purpose, so the pipeline has to
//! discover it (from Ticketmaster's external links or a setlist.fm search).

use serde::Serialize;
use uuid::Uuid;

use super::sync_status::SyncStatus;
use super::{Backend, Store, StoreError};
use crate::catalog::CatalogArtist;

/// What a seed did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeedReport {
    pub requested: usize,
    pub inserted: usize,
    /// Skipped because an artist with that Ticketmaster id was already there.
    pub already_present: usize,
}

/// 5 parameters a row: far below SQLite's 32,766 and Postgres's 65,535.
const BATCH: usize = 500;

impl Store {
    /// Inserts the artists in batches inside one transaction, all-or-nothing. An artist whose
    /// Ticketmaster id exists is left as it is, so seeding twice changes nothing.
    pub async fn insert_catalog_artists(
        &self,
        artists: &[CatalogArtist],
    ) -> Result<SeedReport, StoreError> {
        let status = SyncStatus::default().to_json();
        let mut inserted = 0usize;
        let mut tx = self.begin().await?;
        for chunk in artists.chunks(BATCH) {
            let result = crate::with_tx!(&mut tx, c, b => {
                let cast = |pg: &'static str| if b == Backend::Postgres { pg } else { "" };
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO artists (id, name, ticketmaster_id, spotify_id, sync_status) ",
                );
                qb.push_values(chunk, |mut row, a| {
                    row.push_bind(Uuid::new_v4().to_string())
                        .push_unseparated(cast("::uuid"))
                        .push_bind(a.name.clone())
                        .push_bind(a.ticketmaster_id.clone())
                        .push_bind(a.spotify_id.clone().filter(|_| a.row_spotify_id))
                        .push_bind(status.clone())
                        .push_unseparated(cast("::jsonb"));
                });
                qb.push(" ON CONFLICT (ticketmaster_id) DO NOTHING");
                qb.build().execute(c).await.map(|r| r.rows_affected())
            });
            match result {
                Ok(n) => inserted += n as usize,
                Err(e) => {
                    // Dropping the transaction rolls it back too; an explicit rollback keeps the
                    // insert's error as the one reported.
                    let _ = tx.rollback().await;
                    return Err(StoreError::query(
                        format!("seeding {} artists", artists.len()),
                        e,
                    ));
                }
            }
        }
        tx.commit().await?;
        Ok(SeedReport {
            requested: artists.len(),
            inserted,
            already_present: artists.len().saturating_sub(inserted),
        })
    }
}
