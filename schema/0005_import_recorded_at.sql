-- 0005: an import is recorded at one time, and its checks use the indexes.
--
-- `dossier import` stages a large file in several batches inside one transaction (so its memory
-- stays flat). Every event of that transaction is one act of recording, so all of them get the
-- recorded time of the first batch, as they did when an import was a single batch.
--
-- The checks join the staged rows to the events table. Inside an import's transaction the
-- planner's statistics still describe the table as it was (empty, on a new ledger), so it chose to
-- hash the whole table for every batch: quadratic in the size of the import. The function now
-- plans only nested loops over the staged rows with index probes into the log (and without JIT,
-- whose compile time exceeds these statements' run time), so each check costs one probe per row.
--
-- Replaces append_batch of 0001; owner and grants are kept by CREATE OR REPLACE.

CREATE OR REPLACE FUNCTION dossier.append_batch(p_recorded_by text)
RETURNS TABLE (o_first_position bigint, o_count bigint, o_recorded_at timestamptz)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $fn$
DECLARE
    v_count bigint;
    v_base bigint;
    v_now timestamptz;
    v_bad record;
BEGIN
    PERFORM pg_advisory_xact_lock(1149, 0);
    SELECT count(*) INTO v_count FROM pg_temp.dossier_staged_events;
    IF v_count = 0 THEN
        RETURN QUERY SELECT NULL::bigint, 0::bigint, NULL::timestamptz;
        RETURN;
    END IF;

    -- Each stream's staged versions must run on from its current version without a hole.
    SELECT s.stream, coalesce(c.current, 0) AS current, min(s.version) AS first, max(s.version) AS last,
           count(*) AS n
      INTO v_bad
      FROM pg_temp.dossier_staged_events s
      LEFT JOIN LATERAL (SELECT max(e.version) AS current FROM dossier.events e WHERE e.stream = s.stream) c ON true
     GROUP BY s.stream, c.current
    HAVING min(s.version) <> coalesce(c.current, 0) + 1 OR max(s.version) - min(s.version) + 1 <> count(*)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'DS002',
            MESSAGE = 'a staged stream does not continue from its current version',
            DETAIL = v_bad.current::text,
            HINT = v_bad.stream;
    END IF;

    SELECT s.stream, e.event_id INTO v_bad
      FROM pg_temp.dossier_staged_events s
      JOIN dossier.events e ON e.stream = s.stream AND e.event_type = s.event_type AND e.reference = s.reference
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'DS003',
            MESSAGE = 'a staged decision is already recorded under its idempotency key',
            DETAIL = v_bad.event_id::text,
            HINT = v_bad.stream;
    END IF;

    PERFORM pg_advisory_xact_lock(1148, 0);
    v_base := nextval('dossier.event_position');
    IF v_count > 1 THEN
        PERFORM setval('dossier.event_position', v_base + v_count - 1);
    END IF;
    -- One recorded time for the whole transaction, taken at its first batch (after the barrier,
    -- so later than every append committed before the import and earlier than any after it).
    v_now := coalesce(nullif(current_setting('dossier.batch_recorded_at', true), '')::timestamptz, clock_timestamp());
    PERFORM set_config('dossier.batch_recorded_at', v_now::text, true);
    PERFORM set_config('dossier.appending', 'on', true);
    INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version,
                                payload, effective, recorded_at, recorded_by, authority, reference)
    SELECT v_base + row_number() OVER (ORDER BY s.ord) - 1, s.stream, s.version, s.event_id, s.event_type,
           s.schema_version, s.payload, s.effective, v_now, p_recorded_by, s.authority, s.reference
      FROM pg_temp.dossier_staged_events s
     ORDER BY s.ord;
    PERFORM set_config('dossier.appending', 'off', true);
    RETURN QUERY SELECT v_base, v_count, v_now;
END
$fn$;
