-- The app's tables, with the live columns (research/origin.md 2.3) and the natural unique keys of
-- design.md. Each table is created only when it does not exist: in an existing app database this
-- migration changes nothing, so no app column is ever dropped, renamed or retyped.
-- Missing columns or keys in an existing database are reported by `syncdeck doctor`, not fixed here.

DO $$
BEGIN
  IF to_regclass('artists') IS NULL THEN
    CREATE TABLE artists (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      image_url text,
      followers integer,
      popularity integer,
      genres text[],
      created_at timestamptz DEFAULT now(),
      updated_at timestamptz DEFAULT now(),
      url text,
      stored_tracks jsonb,
      spotify_id text,
      setlist_fm_id text,
      ticketmaster_id text NOT NULL,
      setlist_fm_mbid text,
      spotify_url text,
      last_spotify_sync timestamptz,
      last_sync timestamptz,
      last_sync_error text,
      last_ticketmaster_sync timestamptz,
      spotify_popularity integer,
      stored_songs jsonb,
      sync_status jsonb DEFAULT '{}'::jsonb,
      upcoming_shows_count integer DEFAULT 0,
      CONSTRAINT artists_ticketmaster_id_key UNIQUE (ticketmaster_id),
      CONSTRAINT artists_spotify_id_key UNIQUE (spotify_id)
    );
    CREATE INDEX idx_artists_name_lower ON artists (lower(name));
    CREATE INDEX idx_artists_last_sync ON artists (last_sync);
  END IF;

  IF to_regclass('venues') IS NULL THEN
    CREATE TABLE venues (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      city text,
      state text,
      country text,
      address text,
      image_url text,
      url text,
      latitude numeric,
      longitude numeric,
      created_at timestamptz DEFAULT now(),
      updated_at timestamptz DEFAULT now(),
      postal_code text,
      ticketmaster_id text,
      timezone text,
      CONSTRAINT venues_ticketmaster_id_key UNIQUE (ticketmaster_id)
    );
  END IF;

  IF to_regclass('shows') IS NULL THEN
    CREATE TABLE shows (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      date date,
      image_url text,
      ticket_url text,
      url text,
      status text,
      popularity integer,
      created_at timestamptz DEFAULT now(),
      updated_at timestamptz DEFAULT now(),
      last_updated timestamptz,
      artist_id uuid REFERENCES artists (id) ON DELETE SET NULL,
      venue_id uuid REFERENCES venues (id) ON DELETE SET NULL,
      ticketmaster_id text,
      description text,
      duration_minutes integer,
      min_price numeric,
      max_price numeric,
      total_votes integer DEFAULT 0,
      last_sync timestamptz,
      last_sync_error text,
      setlist_suggestions jsonb,
      sync_status text,
      CONSTRAINT shows_ticketmaster_id_key UNIQUE (ticketmaster_id),
      CONSTRAINT shows_status_check CHECK (status = ANY (ARRAY['upcoming', 'in-progress', 'completed', 'cancelled']))
    );
    CREATE INDEX idx_shows_artist_id ON shows (artist_id);
    CREATE INDEX idx_shows_venue_id ON shows (venue_id);
    CREATE INDEX idx_shows_date ON shows (date);
  END IF;

  IF to_regclass('songs') IS NULL THEN
    CREATE TABLE songs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      duration_ms integer,
      popularity integer DEFAULT 0,
      preview_url text,
      vote_count integer DEFAULT 0,
      created_at timestamptz DEFAULT now(),
      updated_at timestamptz DEFAULT now(),
      artist_id uuid REFERENCES artists (id) ON DELETE SET NULL,
      album_name text,
      album_image_url text,
      spotify_id text,
      setlist_fm_id text,
      CONSTRAINT vote_count_non_negative CHECK (vote_count >= 0),
      CONSTRAINT songs_spotify_id_artist_id_key UNIQUE (spotify_id, artist_id)
    );
    CREATE INDEX idx_songs_artist_id ON songs (artist_id);
  END IF;

  IF to_regclass('setlists') IS NULL THEN
    CREATE TABLE setlists (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      date date,
      tour_name text,
      created_at timestamptz DEFAULT now(),
      updated_at timestamptz DEFAULT now(),
      artist_id uuid REFERENCES artists (id) ON DELETE SET NULL,
      show_id uuid REFERENCES shows (id) ON DELETE SET NULL,
      songs jsonb,
      venue_id uuid REFERENCES venues (id),
      setlist_fm_id text,
      status text DEFAULT 'draft',
      CONSTRAINT setlists_setlist_fm_id_key UNIQUE (setlist_fm_id)
    );
    CREATE INDEX idx_setlists_artist_id ON setlists (artist_id);
    CREATE INDEX idx_setlists_show_id ON setlists (show_id);
  END IF;

  IF to_regclass('setlist_songs') IS NULL THEN
    CREATE TABLE setlist_songs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      setlist_id uuid NOT NULL REFERENCES setlists (id) ON DELETE CASCADE,
      song_id uuid REFERENCES songs (id) ON DELETE CASCADE,
      position integer NOT NULL,
      created_at timestamptz NOT NULL DEFAULT timezone('utc', now()),
      updated_at timestamptz NOT NULL DEFAULT timezone('utc', now()),
      votes integer DEFAULT 0,
      is_encore boolean DEFAULT false,
      last_updated timestamptz DEFAULT now(),
      name text,
      vote_count integer DEFAULT 0,
      artist_id uuid REFERENCES artists (id),
      played boolean DEFAULT false,
      CONSTRAINT setlist_songs_setlist_id_position_key UNIQUE (setlist_id, position)
    );
    CREATE INDEX idx_setlist_songs_song_id ON setlist_songs (song_id);
  END IF;
END
$$;
