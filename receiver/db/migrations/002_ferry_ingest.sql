-- ferry's own tables, beside the dashboard's.

-- Exactly-once: per stream (workspace, line stream, file generation) the byte
-- offset up to which lines are committed. Locked and advanced in the same
-- transaction as the COPY that stores the lines.

CREATE TABLE ingest_offsets (
    workspace_id  TEXT NOT NULL,
    stream        TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    next_offset   BIGINT NOT NULL DEFAULT 0 CHECK (next_offset >= 0),
    created_at    TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at    TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (workspace_id, stream, source_id)
);

-- Dead letters: lines that could not be stored, with why and their bytes (capped).
CREATE TABLE ingest_rejects (
    id             BIGSERIAL PRIMARY KEY,
    received_at    TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    workspace_id   TEXT NOT NULL,
    stream         TEXT NOT NULL,
    source_id      TEXT,
    source_offset  BIGINT,
    reason         TEXT NOT NULL,
    detail         TEXT NOT NULL,
    raw            BYTEA NOT NULL,
    raw_length     BIGINT NOT NULL
);
CREATE INDEX ingest_rejects_ws ON ingest_rejects (workspace_id, received_at);

-- The time of the event that set each workspace_status column, so an older
-- event arriving late never moves a column back.
CREATE TABLE workspace_status_clock (
    workspace_id         TEXT PRIMARY KEY,
    workshop_name_at     TIMESTAMP,
    current_step_at      TIMESTAMP,
    connected_at         TIMESTAMP,
    last_goss_passed_at  TIMESTAMP
);

-- Applies one folded batch of state events (see receiver/ingest/fold-status.ts)
-- to workspace_status. p = {"last_active_at": ts, "steps_completed": [...],
-- "<column>": {"value": v, "at": ts}, ...}. A column changes only when the
-- patch's event is at least as new as the one that last set it.
CREATE FUNCTION ferry_fold_status(ws TEXT, p JSONB) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    c workspace_status_clock%ROWTYPE;
    now_utc TIMESTAMP := now() AT TIME ZONE 'utc';
    takes_name BOOLEAN; takes_step BOOLEAN; takes_conn BOOLEAN; takes_goss BOOLEAN;
BEGIN
    INSERT INTO workspace_status_clock (workspace_id) VALUES (ws) ON CONFLICT DO NOTHING;
    SELECT * INTO c FROM workspace_status_clock WHERE workspace_id = ws FOR UPDATE;
    takes_name := p ? 'workshop_name' AND (c.workshop_name_at IS NULL OR (p->'workshop_name'->>'at')::timestamp >= c.workshop_name_at);
    takes_step := p ? 'current_step' AND (c.current_step_at IS NULL OR (p->'current_step'->>'at')::timestamp >= c.current_step_at);
    takes_conn := p ? 'connected' AND (c.connected_at IS NULL OR (p->'connected'->>'at')::timestamp >= c.connected_at);
    takes_goss := p ? 'last_goss_passed' AND (c.last_goss_passed_at IS NULL OR (p->'last_goss_passed'->>'at')::timestamp >= c.last_goss_passed_at);

    INSERT INTO workspace_status (workspace_id, workshop_name, updated_at)
    VALUES (ws, '', now_utc) ON CONFLICT (workspace_id) DO NOTHING;

    UPDATE workspace_status s SET
        workshop_name    = CASE WHEN takes_name THEN p->'workshop_name'->>'value' ELSE s.workshop_name END,
        current_step     = CASE WHEN takes_step THEN p->'current_step'->>'value' ELSE s.current_step END,
        connected        = CASE WHEN takes_conn THEN (p->'connected'->>'value')::boolean ELSE s.connected END,
        last_goss_passed = CASE WHEN takes_goss THEN (p->'last_goss_passed'->>'value')::boolean ELSE s.last_goss_passed END,
        last_active_at   = GREATEST(s.last_active_at, (p->>'last_active_at')::timestamp),
        steps_completed  = CASE WHEN jsonb_array_length(p->'steps_completed') = 0 THEN s.steps_completed ELSE
                             ARRAY(SELECT DISTINCT x FROM unnest(coalesce(s.steps_completed, '{}') || ARRAY(SELECT jsonb_array_elements_text(p->'steps_completed'))) AS x ORDER BY x) END,
        updated_at       = now_utc
    WHERE s.workspace_id = ws;

    UPDATE workspace_status_clock SET
        workshop_name_at    = CASE WHEN takes_name THEN (p->'workshop_name'->>'at')::timestamp ELSE workshop_name_at END,
        current_step_at     = CASE WHEN takes_step THEN (p->'current_step'->>'at')::timestamp ELSE current_step_at END,
        connected_at        = CASE WHEN takes_conn THEN (p->'connected'->>'at')::timestamp ELSE connected_at END,
        last_goss_passed_at = CASE WHEN takes_goss THEN (p->'last_goss_passed'->>'at')::timestamp ELSE last_goss_passed_at END
    WHERE workspace_id = ws;
END
$$;
