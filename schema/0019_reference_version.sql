-- 0019: the reference streams' version kept in one row (issue 16, found by the 10M run).
--
-- Every decision (`begin_decision`) and every read that uses the reference data (the policy and
-- jurisdiction streams: policies, population figures, the gazetteer) asked whether those streams
-- changed by counting their events: with a 53,553-place gazetteer that count took about 8 ms, on
-- every decision and every read, growing with the gazetteer. The count and the last position are
-- now kept in dossier.reference_version by a statement trigger on the log, exactly as the count
-- gave them (a rolled-back append rolls its update back; appends of reference events take its row
-- lock until they commit, as they take the position lock). Only the trigger writes it.
CREATE TABLE dossier.reference_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    n bigint NOT NULL,
    last bigint NOT NULL
);
ALTER TABLE dossier.reference_version OWNER TO dossier_owner;
COMMENT ON TABLE dossier.reference_version IS
    'How many events the policy and jurisdiction streams hold, and the position of the last: kept by a trigger on dossier.events.';
INSERT INTO dossier.reference_version
SELECT true, count(*), coalesce(max(position), 0) FROM dossier.events
 WHERE stream = 'policy' OR stream LIKE 'jurisdiction/%';
GRANT SELECT ON dossier.reference_version TO dossier_writer, dossier_reader;

CREATE FUNCTION dossier.count_reference_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_count bigint;
    v_last bigint;
BEGIN
    SELECT count(*), max(position) INTO v_count, v_last FROM new_events
     WHERE stream = 'policy' OR stream LIKE 'jurisdiction/%';
    IF v_count > 0 THEN
        UPDATE dossier.reference_version SET n = n + v_count, last = greatest(last, v_last);
    END IF;
    RETURN NULL;
END
$fn$;
ALTER FUNCTION dossier.count_reference_events() OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.count_reference_events() FROM PUBLIC;
CREATE TRIGGER events_count_reference AFTER INSERT ON dossier.events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION dossier.count_reference_events();

-- begin_decision reads the row instead of counting (every other line as it is).
DO $patch$
DECLARE
    v_old text := pg_get_functiondef('dossier.begin_decision(text)'::regprocedure);
    v_new text;
BEGIN
    v_new := regexp_replace(v_old,
        $a$\(SELECT count\(\*\) AS n, coalesce\(max\(e\.position\), 0\) AS last FROM dossier\.events e\s+WHERE e\.stream = 'policy' OR e\.stream LIKE 'jurisdiction/%'\) r$a$,
        $b$(SELECT v.n, v.last FROM dossier.reference_version v) r$b$);
    IF v_new = v_old THEN
        RAISE EXCEPTION 'begin_decision does not count the reference streams the way 0019 knows';
    END IF;
    EXECUTE v_new;
END
$patch$;
