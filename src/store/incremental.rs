//! What an artist's earlier syncs already stored, so a re-sync asks the providers only for
//! what is new: the Spotify albums whose tracks are stored, the setlist.fm setlists stored.

use std::collections::HashSet;

use super::{Store, StoreError, Tx};

impl Store {
    /// Spotify album ids whose tracks a sync of this artist has stored.
    pub async fn known_spotify_albums(
        &self,
        artist_id: &str,
    ) -> Result<HashSet<String>, StoreError> {
        let q =
            crate::sql!("SELECT album_id FROM syncdeck_spotify_albums WHERE artist_id = $1::uuid");
        let ids: Vec<String> = crate::with_pool!(&self.db, pool, b => {
            sqlx::query_scalar(q.text(b)).bind(artist_id).fetch_all(pool).await
        })
        .map_err(|e| {
            StoreError::query(
                format!("reading the stored albums of artist {artist_id}"),
                e,
            )
        })?;
        Ok(ids.into_iter().collect())
    }

    /// setlist.fm ids of the setlists stored for this artist.
    pub async fn known_setlists(&self, artist_id: &str) -> Result<HashSet<String>, StoreError> {
        let q = crate::sql!(
            "SELECT setlist_fm_id FROM setlists WHERE artist_id = $1::uuid AND setlist_fm_id IS NOT NULL"
        );
        let ids: Vec<String> = crate::with_pool!(&self.db, pool, b => {
            sqlx::query_scalar(q.text(b)).bind(artist_id).fetch_all(pool).await
        })
        .map_err(|e| {
            StoreError::query(
                format!("reading the stored setlists of artist {artist_id}"),
                e,
            )
        })?;
        Ok(ids.into_iter().collect())
    }
}

/// Records albums whose tracks were just written (in the songs' transaction, so a crash never
/// marks an album stored whose songs are not).
pub async fn record_spotify_albums(
    tx: &mut Tx,
    artist_id: &str,
    albums: &[(String, u64)],
) -> Result<(), StoreError> {
    let q = crate::sql!(
        "INSERT INTO syncdeck_spotify_albums (artist_id, album_id, tracks) VALUES ($1::uuid, $2, $3) \
         ON CONFLICT (artist_id, album_id) DO UPDATE SET tracks = EXCLUDED.tracks"
    );
    for (album, tracks) in albums {
        let tracks = i32::try_from(*tracks).unwrap_or(i32::MAX);
        crate::with_tx!(tx, c, b => {
            sqlx::query(q.text(b)).bind(artist_id).bind(album).bind(tracks).execute(c).await.map(|_| ())
        })
        .map_err(|e| StoreError::query(format!("recording album {album} of artist {artist_id}"), e))?;
    }
    Ok(())
}

impl Store {
    /// Whether `ticketmaster_id` was confirmed for this artist at or after `since`.
    pub async fn tm_id_checked_since(
        &self,
        artist_id: &str,
        ticketmaster_id: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let q = crate::sql!(
            "SELECT COUNT(*) FROM syncdeck_tm_id_checks \
             WHERE artist_id = $1::uuid AND ticketmaster_id = $2 AND checked_unix >= $3"
        );
        let n: i64 = crate::with_pool!(&self.db, pool, b => {
            sqlx::query_scalar(q.text(b)).bind(artist_id).bind(ticketmaster_id).bind(since.timestamp()).fetch_one(pool).await
        })
        .map_err(|e| StoreError::query(format!("reading the Ticketmaster id check of artist {artist_id}"), e))?;
        Ok(n > 0)
    }

    /// Records that Ticketmaster confirmed `ticketmaster_id` for this artist now.
    pub async fn record_tm_id_check(
        &self,
        artist_id: &str,
        ticketmaster_id: &str,
    ) -> Result<(), StoreError> {
        let q = crate::sql!(
            "INSERT INTO syncdeck_tm_id_checks (artist_id, ticketmaster_id, checked_unix) VALUES ($1::uuid, $2, $3) \
             ON CONFLICT (artist_id) DO UPDATE SET ticketmaster_id = EXCLUDED.ticketmaster_id, checked_unix = EXCLUDED.checked_unix"
        );
        crate::with_pool!(&self.db, pool, b => {
            sqlx::query(q.text(b)).bind(artist_id).bind(ticketmaster_id).bind(chrono::Utc::now().timestamp()).execute(pool).await.map(|_| ())
        })
        .map_err(|e| StoreError::query(format!("recording the Ticketmaster id check of artist {artist_id}"), e))
    }
}
