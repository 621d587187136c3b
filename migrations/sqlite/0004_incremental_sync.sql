-- Incremental re-syncs: the Spotify albums whose tracks an artist's sync has stored, so the
-- next sync fetches tracks only for albums it has not seen.
CREATE TABLE IF NOT EXISTS syncdeck_spotify_albums (
  artist_id TEXT NOT NULL REFERENCES artists (id) ON DELETE CASCADE,
  album_id text NOT NULL,
  tracks integer NOT NULL,
  synced_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (artist_id, album_id)
);

-- When an artist's Ticketmaster id was last confirmed to exist (checked when its events come
-- back empty, at most once a week, so a stale id is found without a lookup on every sync).
CREATE TABLE IF NOT EXISTS syncdeck_tm_id_checks (
  artist_id TEXT PRIMARY KEY REFERENCES artists (id) ON DELETE CASCADE,
  ticketmaster_id text NOT NULL,
  checked_unix bigint NOT NULL
);

-- A run waiting for a provider's daily quota: queued again for the reset, with the reason.
-- `attempt_base` numbers the attempts after a wait on from the ones before it.
ALTER TABLE syncdeck_runs ADD COLUMN wait_until TEXT;
ALTER TABLE syncdeck_runs ADD COLUMN wait_reason text;
ALTER TABLE syncdeck_runs ADD COLUMN attempt_base integer NOT NULL DEFAULT 0;

-- The queue's switches, shared by every process on this database: `paused` stops every
-- worker from starting runs (running ones finish) until resumed.
CREATE TABLE IF NOT EXISTS syncdeck_queue_state (
  id integer PRIMARY KEY CHECK (id = 1),
  paused boolean NOT NULL DEFAULT false,
  changed_at TEXT,
  changed_by text
);
