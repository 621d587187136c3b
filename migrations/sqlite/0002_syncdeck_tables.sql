-- syncdeck's own tables, beside the app's and apalis's. Only `syncdeck_` names.

-- One row per sync request of one artist. At most one active (queued or running) run per artist:
-- a second request joins the active run instead of queueing again.
CREATE TABLE IF NOT EXISTS syncdeck_runs (
  id TEXT PRIMARY KEY,
  artist_id TEXT NOT NULL,
  artist_name text NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
  priority integer NOT NULL DEFAULT 0,
  trigger text NOT NULL DEFAULT 'manual',
  requested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  started_at TEXT,
  finished_at TEXT,
  heartbeat_at TEXT,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 3,
  worker text,
  task_id text,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  error text,
  error_source text,
  error_step text,
  error_http_status integer,
  counts TEXT NOT NULL DEFAULT '{}',
  progress TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS syncdeck_runs_one_active_per_artist
  ON syncdeck_runs (artist_id) WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS syncdeck_runs_artist_requested ON syncdeck_runs (artist_id, requested_at DESC);
CREATE INDEX IF NOT EXISTS syncdeck_runs_status ON syncdeck_runs (status);

-- Each attempt of a run: when, how it ended, and why it was retried.
CREATE TABLE IF NOT EXISTS syncdeck_run_attempts (
  run_id TEXT NOT NULL REFERENCES syncdeck_runs (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  worker text,
  started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  finished_at TEXT,
  outcome text,
  error text,
  retry_reason text,
  retry_at TEXT,
  PRIMARY KEY (run_id, attempt)
);

-- Per-key API budgets shared by every process that uses the same key: a daily counter and the
-- next free slot of a GCRA-style per-second limiter.
CREATE TABLE IF NOT EXISTS syncdeck_api_budgets (
  budget_key text PRIMARY KEY,
  provider text NOT NULL,
  day_started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  day_used integer NOT NULL DEFAULT 0,
  day_limit integer NOT NULL,
  next_slot_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  throttled_until TEXT,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Workers (processes) that run syncdeck jobs, with their heartbeats, for the header and recovery.
CREATE TABLE IF NOT EXISTS syncdeck_workers (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  concurrency integer NOT NULL,
  started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  heartbeat_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
