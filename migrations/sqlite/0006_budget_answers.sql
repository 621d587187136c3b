-- Refused answers per API key, counted by every process that uses the key (only ever grow):
-- the console's 429 and 5xx figures are differences of two readings, across processes.
ALTER TABLE syncdeck_api_budgets ADD COLUMN answers_429 integer NOT NULL DEFAULT 0;
ALTER TABLE syncdeck_api_budgets ADD COLUMN answers_5xx integer NOT NULL DEFAULT 0;
