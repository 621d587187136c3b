-- The app's tables for the embedded SQLite default, mirroring the Postgres live columns
-- (research/origin.md 2.3) with SQLite types: uuid, jsonb, text[] and timestamps are TEXT
-- (uuids as text, JSON as text, timestamps as RFC 3339 UTC), numeric is REAL, boolean is INTEGER.

CREATE TABLE IF NOT EXISTS artists (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  image_url TEXT,
  followers INTEGER,
  popularity INTEGER,
  genres TEXT,
  created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  url TEXT,
  stored_tracks TEXT,
  spotify_id TEXT,
  setlist_fm_id TEXT,
  ticketmaster_id TEXT NOT NULL,
  setlist_fm_mbid TEXT,
  spotify_url TEXT,
  last_spotify_sync TEXT,
  last_sync TEXT,
  last_sync_error TEXT,
  last_ticketmaster_sync TEXT,
  spotify_popularity INTEGER,
  stored_songs TEXT,
  sync_status TEXT DEFAULT '{}',
  upcoming_shows_count INTEGER DEFAULT 0,
  CONSTRAINT artists_ticketmaster_id_key UNIQUE (ticketmaster_id),
  CONSTRAINT artists_spotify_id_key UNIQUE (spotify_id)
);
CREATE INDEX IF NOT EXISTS idx_artists_name_lower ON artists (lower(name));
CREATE INDEX IF NOT EXISTS idx_artists_last_sync ON artists (last_sync);

CREATE TABLE IF NOT EXISTS venues (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  city TEXT,
  state TEXT,
  country TEXT,
  address TEXT,
  image_url TEXT,
  url TEXT,
  latitude REAL,
  longitude REAL,
  created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  postal_code TEXT,
  ticketmaster_id TEXT,
  timezone TEXT,
  CONSTRAINT venues_ticketmaster_id_key UNIQUE (ticketmaster_id)
);

CREATE TABLE IF NOT EXISTS shows (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  date TEXT,
  image_url TEXT,
  ticket_url TEXT,
  url TEXT,
  status TEXT CHECK (status IN ('upcoming', 'in-progress', 'completed', 'cancelled')),
  popularity INTEGER,
  created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  last_updated TEXT,
  artist_id TEXT REFERENCES artists (id) ON DELETE SET NULL,
  venue_id TEXT REFERENCES venues (id) ON DELETE SET NULL,
  ticketmaster_id TEXT,
  description TEXT,
  duration_minutes INTEGER,
  min_price REAL,
  max_price REAL,
  total_votes INTEGER DEFAULT 0,
  last_sync TEXT,
  last_sync_error TEXT,
  setlist_suggestions TEXT,
  sync_status TEXT,
  CONSTRAINT shows_ticketmaster_id_key UNIQUE (ticketmaster_id)
);
CREATE INDEX IF NOT EXISTS idx_shows_artist_id ON shows (artist_id);
CREATE INDEX IF NOT EXISTS idx_shows_venue_id ON shows (venue_id);
CREATE INDEX IF NOT EXISTS idx_shows_date ON shows (date);

CREATE TABLE IF NOT EXISTS songs (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  duration_ms INTEGER,
  popularity INTEGER DEFAULT 0,
  preview_url TEXT,
  vote_count INTEGER DEFAULT 0 CHECK (vote_count >= 0),
  created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  artist_id TEXT REFERENCES artists (id) ON DELETE SET NULL,
  album_name TEXT,
  album_image_url TEXT,
  spotify_id TEXT,
  setlist_fm_id TEXT,
  CONSTRAINT songs_spotify_id_artist_id_key UNIQUE (spotify_id, artist_id)
);
CREATE INDEX IF NOT EXISTS idx_songs_artist_id ON songs (artist_id);

CREATE TABLE IF NOT EXISTS setlists (
  id TEXT PRIMARY KEY NOT NULL,
  date TEXT,
  tour_name TEXT,
  created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  artist_id TEXT REFERENCES artists (id) ON DELETE SET NULL,
  show_id TEXT REFERENCES shows (id) ON DELETE SET NULL,
  songs TEXT,
  venue_id TEXT REFERENCES venues (id),
  setlist_fm_id TEXT,
  status TEXT DEFAULT 'draft',
  CONSTRAINT setlists_setlist_fm_id_key UNIQUE (setlist_fm_id)
);
CREATE INDEX IF NOT EXISTS idx_setlists_artist_id ON setlists (artist_id);
CREATE INDEX IF NOT EXISTS idx_setlists_show_id ON setlists (show_id);

CREATE TABLE IF NOT EXISTS setlist_songs (
  id TEXT PRIMARY KEY NOT NULL,
  setlist_id TEXT NOT NULL REFERENCES setlists (id) ON DELETE CASCADE,
  song_id TEXT REFERENCES songs (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  votes INTEGER DEFAULT 0,
  is_encore INTEGER DEFAULT 0,
  last_updated TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  name TEXT,
  vote_count INTEGER DEFAULT 0,
  artist_id TEXT REFERENCES artists (id),
  played INTEGER DEFAULT 0,
  CONSTRAINT setlist_songs_setlist_id_position_key UNIQUE (setlist_id, position)
);
CREATE INDEX IF NOT EXISTS idx_setlist_songs_song_id ON setlist_songs (song_id);
