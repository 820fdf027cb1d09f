-- 0008: a decision is judged under the locks that keep its verdict true until it commits.
--
-- Before this, a single decision read its stream and the placements, judged, and only then took
-- the import barrier and the stream lock inside append_to_stream: a hire judged while an import
-- was running waited for the import and was written over a quota the import had filled, and
-- writers racing on one worker failed on the expected version. Now a writer first calls
-- begin_decision (in its own transaction): it takes the import barrier (shared) and the stream's
-- lock, in the same order append_to_stream takes them, and returns what the writer needs to know
-- whether its cached copies are current. Everything it then reads was committed before the locks
-- were granted and nothing that would change it can commit before this transaction ends.
--
-- Lock order, everywhere: import barrier, then the stream, then quota keys (city before district).

CREATE FUNCTION dossier.begin_decision(p_stream text)
RETURNS TABLE (o_version integer, o_reference_count bigint, o_reference_last bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF v_actor.role NOT IN ('hr', 'admin') THEN
        PERFORM dossier.check_scope(v_actor.name, v_actor.role, '{}');
    END IF;
    IF p_stream IS NULL OR length(p_stream) > 300 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'begin_decision needs a stream name of at most 300 bytes';
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        -- Under a snapshot isolation level the reads after the locks would not see what the
        -- previous holder committed: the verdict would not be judged on the current record.
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'begin_decision needs a READ COMMITTED transaction';
    END IF;
    PERFORM 1 FROM dossier.append_locks WHERE name = 'barrier' FOR SHARE;
    PERFORM dossier.lock_key('stream:' || p_stream);
    RETURN QUERY
        SELECT (SELECT coalesce(max(e.version), 0)::integer FROM dossier.events e WHERE e.stream = p_stream),
               r.n, r.last
          FROM (SELECT count(*) AS n, coalesce(max(e.position), 0) AS last FROM dossier.events e
                 WHERE e.stream = 'policy' OR e.stream LIKE 'jurisdiction/%') r;
END
$fn$;
ALTER FUNCTION dossier.begin_decision(text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.begin_decision(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.begin_decision(text) TO dossier_writer;

-- Drops the `<table>_next` tables a rebuild left behind when it was killed, unless a rebuild is
-- running now (it holds the projection lock). `dossier project`, `rebuild` and `init` call it.
-- Returns the number of tables dropped.
CREATE FUNCTION dossier_read.drop_leftovers() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
    v_dropped integer := 0;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_tables WHERE schemaname = 'dossier_read' AND tablename LIKE '%\_next') THEN
        RETURN 0;
    END IF;
    IF NOT pg_try_advisory_xact_lock(1152, 0) THEN
        RETURN 0;
    END IF;
    FOR t IN
        SELECT tablename FROM pg_tables
         WHERE schemaname = 'dossier_read' AND tablename LIKE '%\_next'
           AND left(tablename, -5) IN ('worker_timeline', 'audit_trail', 'assessments', 'level_history',
                                       'assignments', 'quotas')
    LOOP
        EXECUTE format('DROP TABLE dossier_read.%I', t);
        v_dropped := v_dropped + 1;
    END LOOP;
    RETURN v_dropped;
END
$fn$;
ALTER FUNCTION dossier_read.drop_leftovers() OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier_read.drop_leftovers() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier_read.drop_leftovers() TO dossier_projector;
