-- 0016: corrections and rescissions of a jurisdiction's decisions (issue 12).
--
-- A population figure, a policy or a place recorded wrongly is corrected or rescinded the way a
-- worker's decision is: by a `correction` or `rescission` event in the stream of the decision it
-- amends, carrying `jurisdiction` instead of `worker`:
--   * a population figure or a place: in its jurisdiction stream (`jurisdiction/上海/黄浦区`);
--   * a policy: in the `policy` stream, its payload naming the policy's jurisdiction (`*`, a city
--     or `City/District`), which must be the amended policy's own (checked below), so the hr
--     scope check of 0006, which reads that field, judges the right jurisdiction.
-- structural_problem (0006/0010) already requires the amended event to be an earlier event of
-- the same stream, not rescinded, and a correction's fields to be fields of its type.
--
-- event_problem and structural_problem are changed by textual patches at named anchors, as 0012
-- did, so that migrations written beside this one compose; each patch fails, changing nothing,
-- when its anchor is missing, and is skipped when already applied.

-- The fields a correction or rescission of a jurisdiction's decision may carry.
INSERT INTO dossier.event_fields (event_type, field, kind, required, min_value, max_value, max_length)
VALUES ('rescission', 'jurisdiction', 'text', false, NULL, NULL, 201),
       ('correction', 'jurisdiction', 'text', false, NULL, NULL, 201)
ON CONFLICT (event_type, field) DO NOTHING;
INSERT INTO dossier.event_fields (event_type, field, kind, required, min_value, max_value, max_length)
SELECT DISTINCT ON (f.field) 'correction', f.field, f.kind, false, f.min_value, f.max_value, f.max_length
  FROM dossier.event_fields f JOIN dossier.event_types t USING (event_type)
 WHERE t.stream_kind IN ('jurisdiction', 'policy') AND f.event_type NOT IN ('selection', 'correction', 'rescission')
   AND f.field NOT IN ('override', 'exceptions', 'personal', 'overrideApproval')
 ORDER BY f.field, f.kind
ON CONFLICT (event_type, field) DO NOTHING;

DO $amendments_event_problem$
DECLARE
    v_function regprocedure :=
        'dossier.event_problem(text[], text[], jsonb[], date[], text[], text[], smallint[], boolean)'::regprocedure;
    v_text text;
    -- Corrections and rescissions may lie in jurisdiction streams and the policy stream.
    v_stream_anchor constant text := $a$WHEN 'worker' THEN e.stream !~ $a$;
    v_stream_rule constant text := $r$WHEN 'worker' THEN (e.event_type IN ('correction', 'rescission') AND (e.stream = 'policy' OR e.stream LIKE 'jurisdiction/%')) IS NOT TRUE AND e.stream !~ $r$;
    -- A policy correction's parameters obey the rules of a policy's.
    v_parameters_anchor constant text := $a$CASE WHEN e.event_type = 'policy' AND jsonb_typeof(e.payload -> 'parameters') = 'object'$a$;
    v_parameters_rule constant text := $r$CASE WHEN e.event_type IN ('policy', 'correction') AND jsonb_typeof(e.payload -> 'parameters') = 'object'$r$;
    v_empty_anchor constant text := $a$WHERE e.event_type = 'policy' AND e.payload -> 'parameters' = '{}'::jsonb$a$;
    v_empty_rule constant text := $r$WHERE e.event_type IN ('policy', 'correction') AND e.payload -> 'parameters' = '{}'::jsonb$r$;
BEGIN
    v_text := pg_get_functiondef(v_function);
    IF position(v_stream_rule IN v_text) > 0 THEN
        RETURN;
    END IF;
    IF position(v_stream_anchor IN v_text) = 0 OR position(v_parameters_anchor IN v_text) = 0
        OR position(v_empty_anchor IN v_text) = 0 THEN
        RAISE EXCEPTION 'dossier.event_problem lacks an anchor for the rules of jurisdiction amendments';
    END IF;
    v_text := replace(v_text, v_stream_anchor, v_stream_rule);
    v_text := replace(v_text, v_parameters_anchor, v_parameters_rule);
    v_text := replace(v_text, v_empty_anchor, v_empty_rule);
    EXECUTE v_text;
END
$amendments_event_problem$;

DO $amendments_structural_problem$
DECLARE
    v_function regprocedure := 'dossier.structural_problem(bigint, bigint)'::regprocedure;
    v_text text;
    v_anchor constant text := $a$        IF e.event_type = 'correction' THEN
            IF t.event_type = 'appeal'$a$;
    v_rule constant text := $r$        -- 0016: an amendment of a policy names the policy's own jurisdiction; a selection is
        -- answered by appeals, never corrected or rescinded.
        IF e.stream = 'policy' AND e.event_type IN ('correction', 'rescission')
            AND (e.payload ->> 'jurisdiction') IS DISTINCT FROM (t.payload ->> 'jurisdiction') THEN
            RETURN format('%s at position %s: its jurisdiction %s is not that of the decision %s it amends (%s)',
                          e.event_type, e.position, coalesce(e.payload ->> 'jurisdiction', 'none'), v_target,
                          coalesce(t.payload ->> 'jurisdiction', 'none'));
        END IF;
        IF e.event_type = 'correction' AND t.event_type = 'place' AND e.payload ?| ARRAY['kind', 'action', 'within', 'into'] THEN
            RETURN format('correction at position %s: a place''s kind, action, within and into are not corrected; rescind the place decision and record it again',
                          e.position);
        END IF;
        IF e.event_type IN ('correction', 'rescission') AND t.event_type = 'selection' THEN
            RETURN format('%s at position %s: the selection %s is answered by appeals, not corrected or rescinded',
                          e.event_type, e.position, v_target);
        END IF;
$r$;
BEGIN
    v_text := pg_get_functiondef(v_function);
    IF position('-- 0016: an amendment of a policy' IN v_text) > 0 THEN
        RETURN;
    END IF;
    IF position(v_anchor IN v_text) = 0 THEN
        RAISE EXCEPTION 'dossier.structural_problem has no correction branch to put the rules of jurisdiction amendments before';
    END IF;
    EXECUTE replace(v_text, v_anchor, v_rule || v_anchor);
END
$amendments_structural_problem$;

-- The figures and ratios in force, as 0011 computed them, now with corrections of population and
-- policy decisions applied (the last correction of a field wins; `correctedEffective` moves the
-- decision; a rescinded correction is not applied) and rescinded decisions left out: the rules
-- of DossierDomain's JurisdictionRecord, PopulationBook and PolicyBook.
CREATE OR REPLACE FUNCTION dossier_read.population_in_force(p_as_of date, p_known_at timestamptz DEFAULT NULL)
RETURNS TABLE (jurisdiction text, year integer, urban_population integer, per_ten_thousand integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    WITH known AS (
        SELECT e.event_id, e.stream, e.position, e.event_type, e.effective, e.payload
          FROM dossier.events e
         WHERE (e.stream = 'policy' OR e.stream LIKE 'jurisdiction/%')
           -- knowledge time (0015: an import's knownSince where given, else recorded_at)
           AND (p_known_at IS NULL OR dossier.known_time(e.payload, e.recorded_at) <= p_known_at)),
    rescinded AS (
        SELECT (k.payload ->> 'rescinds')::uuid AS event_id FROM known k WHERE k.event_type = 'rescission'),
    corrections AS (
        SELECT k.position, (k.payload ->> 'corrects')::uuid AS target, k.payload
          FROM known k
         WHERE k.event_type = 'correction'
           AND k.event_id NOT IN (SELECT r.event_id FROM rescinded r WHERE r.event_id IS NOT NULL)),
    changes AS (
        SELECT c.target, jsonb_object_agg(c.key, c.value) AS fields
          FROM (SELECT DISTINCT ON (c.target, kv.key) c.target, kv.key, kv.value
                  FROM corrections c
                 CROSS JOIN LATERAL jsonb_each(c.payload - ARRAY['corrects', 'correctedEffective', 'jurisdiction', 'override',
                                                                  'overrideApproval', 'exceptions', 'personal']) kv
                 ORDER BY c.target, kv.key, c.position DESC) c
         GROUP BY c.target),
    redated AS (
        SELECT DISTINCT ON (c.target) c.target, (c.payload ->> 'correctedEffective')::date AS effective
          FROM corrections c WHERE c.payload ? 'correctedEffective'
         ORDER BY c.target, c.position DESC),
    standing AS (
        SELECT k.event_id, k.stream, k.position, k.event_type, coalesce(d.effective, k.effective) AS effective,
               k.payload || coalesce(ch.fields, '{}'::jsonb) AS payload
          FROM known k
          LEFT JOIN changes ch ON ch.target = k.event_id
          LEFT JOIN redated d ON d.target = k.event_id
         WHERE k.event_type IN ('population', 'policy')
           AND k.event_id NOT IN (SELECT r.event_id FROM rescinded r WHERE r.event_id IS NOT NULL)),
    figures AS (
        SELECT DISTINCT ON (k.stream, (k.payload ->> 'year')::integer)
               substr(k.stream, length('jurisdiction/') + 1) AS jurisdiction,
               (k.payload ->> 'year')::integer AS year, (k.payload ->> 'urbanPopulation')::integer AS population,
               k.effective
          FROM standing k
         WHERE k.event_type = 'population'
         ORDER BY k.stream, (k.payload ->> 'year')::integer, k.position DESC),
    in_force AS (
        SELECT DISTINCT ON (f.jurisdiction) f.jurisdiction, f.year, f.population
          FROM figures f
         WHERE f.year <= extract(year FROM p_as_of)::integer AND f.effective <= p_as_of
         ORDER BY f.jurisdiction, f.year DESC),
    ratios AS (
        SELECT k.payload ->> 'jurisdiction' AS scope, (k.payload -> 'parameters' ->> 'quotaPerTenThousand')::integer AS ratio,
               k.effective, k.position
          FROM standing k
         WHERE k.event_type = 'policy' AND k.effective <= p_as_of
           AND k.payload -> 'parameters' ? 'quotaPerTenThousand')
    SELECT i.jurisdiction, i.year, i.population,
           coalesce(
               (SELECT r.ratio FROM ratios r WHERE r.scope = i.jurisdiction AND position('/' IN i.jurisdiction) > 0
                 ORDER BY r.effective DESC, r.position DESC LIMIT 1),
               (SELECT r.ratio FROM ratios r WHERE r.scope = split_part(i.jurisdiction, '/', 1)
                 ORDER BY r.effective DESC, r.position DESC LIMIT 1),
               (SELECT r.ratio FROM ratios r WHERE r.scope = '*' ORDER BY r.effective DESC, r.position DESC LIMIT 1),
               18)
      FROM in_force i
$fn$;

-- The gazetteer's mapping (0013) reads knowledge time as every other `--known-at` query does
-- since 0015: an imported rename or merge is known from its knownSince, not from its import.
DO $places_known_time$
DECLARE
    v_function regprocedure;
    v_text text;
BEGIN
    FOREACH v_function IN ARRAY ARRAY[
        'dossier.places_moved(date, timestamptz)'::regprocedure,
        'dossier.place_in_force(text, text, text, text, date, timestamptz)'::regprocedure] LOOP
        v_text := pg_get_functiondef(v_function);
        IF position('e.recorded_at <= p_known_at' IN v_text) = 0 OR position('r.recorded_at <= p_known_at' IN v_text) = 0 THEN
            RAISE EXCEPTION '% has no recorded_at test to read knowledge time in', v_function;
        END IF;
        v_text := replace(v_text, 'e.recorded_at <= p_known_at', 'dossier.known_time(e.payload, e.recorded_at) <= p_known_at');
        v_text := replace(v_text, 'r.recorded_at <= p_known_at', 'dossier.known_time(r.payload, r.recorded_at) <= p_known_at');
        EXECUTE v_text;
    END LOOP;
END
$places_known_time$;
