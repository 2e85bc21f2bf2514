-- Time partitions for the four log tables, ranged on their timestamp. Each
-- table becomes a partitioned table of the same name, columns and indexes;
-- the receiver creates the partitions ahead of time (receiver/db/partitions.ts)
-- and retention drops whole partitions instead of deleting rows.
--
-- The table as it was, with its rows, becomes the partition `<table>_history`
-- for everything before the next UTC midnight: it is renamed, not rewritten,
-- and a validated CHECK constraint lets ATTACH PARTITION skip its own scan. It
-- ages out with the retention like any other partition. On a new database the
-- history partitions are empty.

-- Creates the partition [lower_bound, upper_bound) of `parent` and returns its
-- name, `<parent>_pYYYYMMDD_HHMI`. The table is made on its own, with the
-- parent's indexes (named `<partition>_<parent's index>`), then attached:
-- ATTACH PARTITION locks the parent in SHARE UPDATE EXCLUSIVE mode, which
-- ingest (ROW EXCLUSIVE) and reads do not conflict with, where CREATE TABLE
-- ... PARTITION OF would take ACCESS EXCLUSIVE and queue behind every COPY.
CREATE FUNCTION ferry_create_partition(parent REGCLASS, lower_bound TIMESTAMP, upper_bound TIMESTAMP) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    child TEXT := (SELECT relname FROM pg_class WHERE oid = parent) || '_p' || to_char(lower_bound, 'YYYYMMDD_HH24MI');
    idx RECORD;
BEGIN
    EXECUTE format('CREATE TABLE %I (LIKE %s INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMPRESSION)', child, parent);
    FOR idx IN
        SELECT i.indexrelid, c.relname, i.indisunique, con.oid AS constraint_oid, con.contype
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = parent
        WHERE i.indrelid = parent
    LOOP
        -- A primary key must be a constraint on the partition too, or ATTACH builds another index.
        IF idx.constraint_oid IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', child,
                child || CASE WHEN idx.contype = 'p' THEN '_pkey' ELSE '_' || idx.relname END, pg_get_constraintdef(idx.constraint_oid));
        ELSE
            EXECUTE format('CREATE %sINDEX %I ON %I%s', CASE WHEN idx.indisunique THEN 'UNIQUE ' ELSE '' END,
                child || '_' || idx.relname, child, substring(pg_get_indexdef(idx.indexrelid) FROM ' USING .*$'));
        END IF;
    END LOOP;
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, child, lower_bound, upper_bound);
    RETURN child;
END
$$;

-- Partitions the retention has decided to drop, until they are gone: DETACH
-- PARTITION CONCURRENTLY runs outside any transaction, so a receiver that
-- stops between detaching and dropping leaves the work here for the next run.
CREATE TABLE ferry_retired_partitions (
    partition   TEXT PRIMARY KEY,
    parent      TEXT NOT NULL,
    retired_at  TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

DO $$
DECLARE
    t RECORD;
    history TEXT;
    pk TEXT;
    bound TIMESTAMP := date_trunc('day', now() AT TIME ZONE 'utc') + interval '1 day';
    day TIMESTAMP;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('command_log', 'timestamp', 'idx_command_log_ws'),
        ('state_timeline', 'timestamp', 'idx_state_timeline_ws'),
        ('llm_interactions', 'requested_at', 'idx_llm_ws'),
        ('ingest_rejects', 'received_at', 'ingest_rejects_ws')) AS v(name, time_column, index_name)
    LOOP
        history := t.name || '_history';
        -- The parent takes the seed's table, index and key names; the history partition's get its prefix.
        SELECT conname INTO pk FROM pg_constraint WHERE conrelid = t.name::regclass AND contype = 'p';
        EXECUTE format('ALTER TABLE %I RENAME TO %I', t.name, history);
        EXECUTE format('ALTER TABLE %I RENAME CONSTRAINT %I TO %I', history, pk, history || '_pkey');
        EXECUTE format('ALTER INDEX %I RENAME TO %I', t.index_name, history || '_' || t.index_name);

        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMPRESSION) PARTITION BY RANGE (%I)', t.name, history, t.time_column);
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (id, %I)', t.name, t.time_column);
        EXECUTE format('CREATE INDEX %I ON %I%s', t.index_name, t.name,
            (SELECT substring(pg_get_indexdef(c.oid) FROM ' USING .*$') FROM pg_class c WHERE c.relname = history || '_' || t.index_name));
        -- The ids go on from where they were, and the sequence lives as long as the table, not the history partition.
        EXECUTE format('ALTER SEQUENCE %s OWNED BY %I.id', pg_get_serial_sequence(history, 'id'), t.name);

        -- Rows stamped after the bound (the old receiver accepted any future
        -- timestamp) move to partitions of their own days, so the history
        -- partition ends at the bound and ages out with the retention.
        FOR day IN EXECUTE format('SELECT DISTINCT date_trunc(''day'', %I) FROM %I WHERE %I >= %L', t.time_column, history, t.time_column, bound) LOOP
            PERFORM ferry_create_partition(t.name::regclass, day, day + interval '1 day');
        END LOOP;
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %L RETURNING *) INSERT INTO %I SELECT * FROM moved', history, t.time_column, bound, t.name);

        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I < %L)', history, history || '_bound', t.time_column, bound);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)', t.name, history, bound);
        -- The partition constraint says the same from now on.
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', history, history || '_bound');
    END LOOP;
END
$$;
