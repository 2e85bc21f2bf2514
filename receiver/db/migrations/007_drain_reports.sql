-- How each shipper's last drain ended, one row per workspace (its latest):
-- lines and recording bytes a pod deletion left behind are visible instead
-- of silent. `unshipped` holds bytes per pipeline (and `recording`).

CREATE TABLE ingest_drains (
    workspace_id     TEXT PRIMARY KEY,
    outcome          TEXT NOT NULL,
    unshipped        JSONB NOT NULL,
    unshipped_bytes  BIGINT NOT NULL,
    seconds          DOUBLE PRECISION NOT NULL,
    reported_at      TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX ingest_drains_incomplete ON ingest_drains (reported_at) WHERE outcome <> 'complete';
