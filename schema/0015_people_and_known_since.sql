-- 0015: workers are people; imported history keeps its knowledge time (issue 12).
--
-- 1. A hire may carry `personalCorrection` (text, why the personal data of a rehire differs from
--    the record's). A hire under an existing worker id is a rehire of that person: Dossier asks
--    dossier.identity_check which identity fields (name, idNumber, birthDate) of the hire differ
--    from the latest personal data in force of the stream, and refuses the hire (rule
--    rehire-identity) unless it says it corrects them. The function answers only to people who
--    may record (dossier_writer) and only about workers whose personal data the caller may read
--    (dossier.readable_streams): it names fields, never values.
-- 2. Every decision may carry `knownSince` (written by `dossier import` only): when the system
--    the history came from first recorded it, as an RFC 3339 UTC timestamp with a Z
--    (YYYY-MM-DDTHH:MM:SS[.ffffff]Z). It is a field of the payload, so it is part of the hashed
--    event (docs/INTEGRITY.md) and as immutable as the rest of it. `recorded_at` stays the
--    database clock. Knowledge time ("known at") is coalesce(knownSince, recorded_at):
--    dossier.known_time(payload, recorded_at). A CHECK refuses a knownSince that is malformed or
--    later than the event's recorded_at, whoever appends.
--    dossier_read.population_in_force (0011) is patched textually to read knowledge time.

-- The knownSince claimed by an event's payload, or NULL when it has none or it is malformed.
-- Immutable: the text is an ISO timestamp with an explicit Z, read the same under any setting.
CREATE FUNCTION dossier.known_since(p_payload jsonb) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v text := p_payload ->> 'knownSince';
BEGIN
    IF v IS NULL OR v !~ '^(19|20|21)\d{2}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$' THEN
        RETURN NULL;
    END IF;
    RETURN v::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$fn$;
ALTER FUNCTION dossier.known_since(jsonb) OWNER TO dossier_owner;
GRANT EXECUTE ON FUNCTION dossier.known_since(jsonb) TO PUBLIC;

-- When the ledger takes an event as known: its knownSince where given, else when it was appended.
CREATE FUNCTION dossier.known_time(p_payload jsonb, p_recorded_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT CASE WHEN p_payload ? 'knownSince' THEN coalesce(dossier.known_since(p_payload), p_recorded_at)
                ELSE p_recorded_at END
$fn$;
ALTER FUNCTION dossier.known_time(jsonb, timestamptz) OWNER TO dossier_owner;
GRANT EXECUTE ON FUNCTION dossier.known_time(jsonb, timestamptz) TO PUBLIC;

-- No append path may store a knownSince Dossier cannot read, or one after the event's own
-- recording (no existing event has one: NOT VALID skips the scan; new rows are checked).
ALTER TABLE dossier.events ADD CONSTRAINT events_known_since
    CHECK (NOT (payload ? 'knownSince')
           OR (dossier.known_since(payload) IS NOT NULL AND dossier.known_since(payload) <= recorded_at)) NOT VALID;

-- The fields, as data: knownSince on every decision type there is now, personalCorrection on hires.
INSERT INTO dossier.event_fields (event_type, field, kind, required, max_length)
SELECT t.event_type, 'knownSince', 'text', false, 32
  FROM dossier.event_types t
 WHERE t.stream_kind <> 'access' AND t.event_type <> 'erasure'
ON CONFLICT DO NOTHING;
INSERT INTO dossier.event_fields (event_type, field, kind, required, max_length) VALUES
    ('hire', 'personalCorrection', 'text', false, 2000)
ON CONFLICT DO NOTHING;

-- A hire sent without a worker id is looked up by its reference when sent again (Ledger.assignedEarlier).
CREATE INDEX events_hire_reference ON dossier.events (reference) WHERE event_type = 'hire';

-- Which identity fields of p_fields differ from the latest personal data in force of the worker
-- stream p_stream (an event rescinded does not count). o_known: whether the caller may read that
-- stream's personal data (when false nothing is compared); o_has_data: whether the stream has
-- personal data; o_erased: whether the latest was erased.
CREATE FUNCTION dossier.identity_check(p_stream text, p_fields jsonb)
RETURNS TABLE (o_known boolean, o_has_data boolean, o_erased boolean, o_differing text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
    v_row record;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF NOT (p_stream = ANY (dossier.readable_streams(v_actor.name, v_actor.role, ARRAY[p_stream]))) THEN
        RETURN QUERY SELECT false, NULL::boolean, NULL::boolean, NULL::text[];
        RETURN;
    END IF;
    SELECT pd.fields, pd.erased_at IS NOT NULL AS erased INTO v_row
      FROM dossier.personal_data pd
      JOIN dossier.events e ON e.event_id = pd.event_id
     WHERE pd.stream = p_stream
       AND NOT EXISTS (SELECT FROM dossier.events r
                        WHERE r.stream = p_stream AND r.event_type = 'rescission'
                          AND r.payload ->> 'rescinds' = pd.event_id::text)
     ORDER BY e.position DESC
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, false, false, '{}'::text[];
        RETURN;
    END IF;
    IF v_row.erased THEN
        RETURN QUERY SELECT true, true, true, '{}'::text[];
        RETURN;
    END IF;
    RETURN QUERY
        SELECT true, true, false, coalesce(array_agg(f ORDER BY f), '{}')
          FROM unnest(ARRAY['name', 'idNumber', 'birthDate']) f
         WHERE p_fields ? f AND v_row.fields ? f AND (p_fields ->> f) IS DISTINCT FROM (v_row.fields ->> f);
END
$fn$;
ALTER FUNCTION dossier.identity_check(text, jsonb) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.identity_check(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.identity_check(text, jsonb) TO dossier_writer;

-- population_in_force (0011) reads knowledge time instead of recorded_at, patched at its anchor
-- so that other migrations changing it compose.
DO $known_time$
DECLARE
    v_function regprocedure := 'dossier_read.population_in_force(date, timestamptz)'::regprocedure;
    v_anchor constant text := 'e.recorded_at <= p_known_at';
    v_new_text constant text := 'dossier.known_time(e.payload, e.recorded_at) <= p_known_at';
    v_old text;
BEGIN
    v_old := pg_get_functiondef(v_function);
    IF position(v_new_text IN v_old) > 0 THEN
        RETURN;
    END IF;
    IF position(v_anchor IN v_old) = 0 THEN
        RAISE EXCEPTION 'dossier_read.population_in_force has no "%" to read knowledge time in', v_anchor;
    END IF;
    EXECUTE replace(v_old, v_anchor, v_new_text);
END
$known_time$;
