-- What an ingest transaction does to its streams and workspaces, as one
-- statement each, so that the whole transaction can be sent at once
-- (receiver/db/batch.ts, receiver/ingest/load.ts).

-- Locks each stream's row in ingest_offsets (made when missing), in one
-- order, so that concurrent transactions cannot deadlock; returns the
-- committed offsets. The streams must be distinct.
CREATE FUNCTION ferry_lock_offsets(ws TEXT[], streams TEXT[], sources TEXT[])
RETURNS TABLE (workspace_id TEXT, stream TEXT, source_id TEXT, next_offset BIGINT) LANGUAGE sql AS $$
    INSERT INTO ingest_offsets AS o (workspace_id, stream, source_id)
    SELECT w, s, src FROM unnest(ws, streams, sources) AS t(w, s, src)
    ORDER BY w COLLATE "C", s COLLATE "C", src COLLATE "C"
    ON CONFLICT ON CONSTRAINT ingest_offsets_pkey DO UPDATE SET next_offset = o.next_offset
    RETURNING o.workspace_id, o.stream, o.source_id, o.next_offset
$$;

-- Moves each stream from the offset the receiver planned with to the one
-- after its requests, under the lock of ferry_lock_offsets. When a stream is not at its
-- expected offset (another transaction moved it, or the request is a resend
-- or starts beyond it), nothing moves and SQLSTATE YF409 aborts the
-- transaction, with everything sent after this statement: the receiver then
-- locks first and plans again from what it reads.
CREATE FUNCTION ferry_advance_offsets(ws TEXT[], streams TEXT[], sources TEXT[], expected_offsets BIGINT[], next_offsets BIGINT[])
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    moved TEXT;
BEGIN
    SELECT string_agg(format('%s/%s/%s at %s, not %s', l.workspace_id, l.stream, l.source_id, l.next_offset, t.e), '; ') INTO moved
    FROM ferry_lock_offsets(ws, streams, sources) AS l
    JOIN unnest(ws, streams, sources, expected_offsets) AS t(w, s, src, e) ON (l.workspace_id, l.stream, l.source_id) = (t.w, t.s, t.src)
    WHERE l.next_offset <> t.e;
    IF moved IS NOT NULL THEN
        RAISE EXCEPTION 'ingest offsets moved: %', left(moved, 1000) USING ERRCODE = 'YF409';
    END IF;
    UPDATE ingest_offsets o SET next_offset = t.n, updated_at = now() AT TIME ZONE 'utc'
    FROM unnest(ws, streams, sources, expected_offsets, next_offsets) AS t(w, s, src, e, n)
    WHERE (o.workspace_id, o.stream, o.source_id) = (t.w, t.s, t.src) AND t.n <> t.e;
END
$$;

-- Applies the folded state events of several workspaces, in the order given
-- (the receiver sorts them, so two transactions lock workspaces in one order).
CREATE FUNCTION ferry_fold_statuses(ws TEXT[], patches JSONB[]) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. coalesce(array_length(ws, 1), 0) LOOP
        PERFORM ferry_fold_status(ws[i], patches[i]);
    END LOOP;
END
$$;
