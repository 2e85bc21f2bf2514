-- The live stream's source: one compact event per committed batch and
-- workspace, written in the batch's own transaction. `tx` is that
-- transaction's id: readers deliver events in (tx, id) order and only below
-- the oldest transaction still running, so every replica sees one order in
-- which no event can later appear behind a position already delivered (a
-- reconnecting client's Last-Event-ID). Kept for a bounded window.

CREATE TABLE ferry_stream_events (
    id            BIGSERIAL,
    tx            XID8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    workspace_id  TEXT NOT NULL,
    body          JSONB NOT NULL,
    PRIMARY KEY (tx, id)
);
CREATE INDEX ferry_stream_events_created ON ferry_stream_events (created_at);
