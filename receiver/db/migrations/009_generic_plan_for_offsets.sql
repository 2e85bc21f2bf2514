-- ferry_advance_offsets runs in every ingest transaction. Left to choose,
-- PostgreSQL planned its statements again at every call: a custom plan sees
-- the arrays' real length, so the generic plan, costed for arrays of unknown
-- length, never looked cheaper. One generic plan per session is right here
-- (ingest_offsets is not partitioned, the lookups are by primary key) and
-- took the function from 0.62 to 0.42 ms in each transaction (bench
-- `latency`). The stream's ferry_publish_* functions are created the same
-- way by the receiver (receiver/stream/publish.ts).
ALTER FUNCTION ferry_advance_offsets(TEXT[], TEXT[], TEXT[], BIGINT[], BIGINT[]) SET plan_cache_mode = force_generic_plan;
