-- 64-bit ids for the log tables. The seed's SERIAL ids are 32-bit: at a
-- 1,000-workspace fleet's rate (about 21 million commands a day) command_log
-- runs out in about 100 days, and then every ingest request fails.
--
-- The primary key also takes the time column: the next migration partitions
-- these tables by time, and PostgreSQL requires a partitioned table's primary
-- key to include the partition key. One ALTER TABLE per table, so the table
-- is rewritten and its indexes rebuilt once. On a database that already holds
-- data this is the expensive migration (a full rewrite under an exclusive
-- lock): README, "Upgrading a database with data", says how to run it in a
-- maintenance window. On a new database the tables are empty and it is instant.

DO $$
DECLARE
    t RECORD;
    pk TEXT;
    seq TEXT;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('command_log', 'timestamp'), ('state_timeline', 'timestamp'), ('llm_interactions', 'requested_at'), ('ingest_rejects', 'received_at')) AS v(name, time_column) LOOP
        SELECT conname INTO pk FROM pg_constraint WHERE conrelid = t.name::regclass AND contype = 'p';
        EXECUTE format('ALTER TABLE %I %s ALTER COLUMN id TYPE bigint, ADD PRIMARY KEY (id, %I)',
            t.name, CASE WHEN pk IS NULL THEN '' ELSE format('DROP CONSTRAINT %I,', pk) END, t.time_column);
        -- A SERIAL's sequence is itself 32-bit; AS bigint raises its maximum with it.
        seq := pg_get_serial_sequence(t.name, 'id');
        IF seq IS NOT NULL THEN
            EXECUTE format('ALTER SEQUENCE %s AS bigint', seq);
        END IF;
    END LOOP;
END
$$;
