-- The console follows other processes' work by the runs that ended since it last looked.
CREATE INDEX IF NOT EXISTS syncdeck_runs_finished ON syncdeck_runs (finished_at);
