-- The keep-fresh scheduler (`syncdeck serve`): a lease, so that only one process enqueues
-- however many share this database, and each periodic rule's last firing, so that a rule
-- fires once per occurrence across processes and restarts.
CREATE TABLE IF NOT EXISTS syncdeck_scheduler_lease (
  id integer PRIMARY KEY CHECK (id = 1),
  holder text NOT NULL,
  expires_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS syncdeck_schedule_rules (
  name text PRIMARY KEY,
  last_fired_at timestamptz NOT NULL
);
