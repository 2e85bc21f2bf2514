-- The dashboard tables, exactly as the design seed specifies them: dashboards
-- read these. IF NOT EXISTS lets ferry adopt a database that a Vector-era
-- dashboard service already created.

CREATE TABLE IF NOT EXISTS workspace_status (
    workspace_id    TEXT PRIMARY KEY,
    workshop_name   TEXT NOT NULL,
    current_step    TEXT,
    connected       BOOLEAN NOT NULL DEFAULT false,
    last_active_at  TIMESTAMP,
    steps_completed TEXT[],
    last_goss_passed BOOLEAN,
    updated_at      TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS state_timeline (
    id              SERIAL PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    step_id         TEXT,
    data            JSONB,
    timestamp       TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS command_log (
    id              SERIAL PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    command         TEXT NOT NULL,
    exit_code       INTEGER NOT NULL,
    timestamp       TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS recording_refs (
    workspace_id    TEXT PRIMARY KEY,
    storage_path    TEXT NOT NULL,
    last_sync_byte  BIGINT NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS llm_interactions (
    id              SERIAL PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    step_id         TEXT NOT NULL,
    student_question TEXT,
    prompt_context  JSONB NOT NULL,
    response        TEXT NOT NULL,
    model           TEXT NOT NULL,
    requested_at    TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_command_log_ws ON command_log(workspace_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_state_timeline_ws ON state_timeline(workspace_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_llm_ws ON llm_interactions(workspace_id, step_id);
