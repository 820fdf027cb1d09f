-- 0010: selections and appeals as cases (issue 13).
--
-- Two new decision kinds:
--   selection  (jurisdiction stream) a promotion or recruitment round: who was selected, who was
--              passed over. Recorded, like population, only by hr for a jurisdiction in its scope
--              (check_scope's jurisdiction branch) or by an admin.
--   appeal     (worker stream) lodged by the worker against a decision of their own record or a
--              selection that names them.
-- An appeal-ruling may now name an appeal: it rules on what the appeal is lodged against.
--
-- The database checks what Dossier's Evaluator checks structurally, so psql and imports cannot
-- store what Dossier would refuse: the lists of a selection (worker ids, at most 200 each, none
-- twice, none in both, not both empty, each a worker hired before and placed in the selection's
-- jurisdiction on its date); an appeal's target (an earlier decision of the same record that is
-- not a correction, rescission, ruling or appeal, nor void; or a selection naming the worker), and
-- no second open appeal against it; a ruling rules on an appeal once.

INSERT INTO dossier.event_types VALUES ('selection', 'jurisdiction'), ('appeal', 'worker');

INSERT INTO dossier.event_fields (event_type, field, kind, required, choices, min_value, max_value, max_length) VALUES
    ('selection', 'for', 'text', true,
        ARRAY['public-institution', 'civil-service', 'street-leadership', 'level-review', 'post'], NULL, NULL, NULL),
    ('selection', 'selected', 'array', true, NULL, NULL, NULL, NULL),
    ('selection', 'passedOver', 'array', true, NULL, NULL, NULL, NULL),
    ('selection', 'criteria', 'text', true, NULL, NULL, NULL, 2000),
    ('appeal', 'against', 'uuid', true, NULL, NULL, NULL, NULL),
    ('appeal', 'grounds', 'text', true, NULL, NULL, NULL, 2000),
    ('selection', 'override', 'text', false, NULL, NULL, NULL, 2000),
    ('selection', 'exceptions', 'array', false, NULL, NULL, NULL, NULL),
    ('selection', 'personal', 'text', false, NULL, NULL, NULL, 200),
    ('appeal', 'override', 'text', false, NULL, NULL, NULL, 2000),
    ('appeal', 'exceptions', 'array', false, NULL, NULL, NULL, NULL),
    ('appeal', 'personal', 'text', false, NULL, NULL, NULL, 200);

-- The selections naming a worker, for the worker's trace and record:
--   WHERE event_type = 'selection' AND ((payload -> 'selected') || (payload -> 'passedOver')) ? 'W-1'
CREATE INDEX events_selection_names ON dossier.events
    USING gin (((payload -> 'selected') || (payload -> 'passedOver')))
    WHERE event_type = 'selection';

-- Appeals by target, for the checks below and the caseload.
CREATE INDEX events_appeal_against ON dossier.events ((payload ->> 'against')) WHERE event_type = 'appeal';
CREATE INDEX events_ruling_appealed ON dossier.events ((payload ->> 'appealed')) WHERE event_type = 'appeal-ruling';

CREATE OR REPLACE FUNCTION dossier.moves_of(p_stream text, p_before bigint DEFAULT NULL)
RETURNS TABLE (pos bigint, effective date, city text, district text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $fn$
-- PL/pgSQL with one generic plan, prepared once per session (called once per worker when hr
-- reads a roster's names).
BEGIN
    RETURN QUERY
    WITH ev AS (
        SELECT e.position, e.event_id::text AS id, e.event_type, e.payload, e.effective
          FROM dossier.events e
         WHERE e.stream = p_stream AND (p_before IS NULL OR e.position < p_before)
    ),
    rescinded AS (
        SELECT r.payload ->> 'rescinds' AS id FROM ev r WHERE r.event_type = 'rescission'
    ),
    voided AS (
        SELECT id FROM rescinded
        UNION
        SELECT a.payload ->> 'appealed' FROM ev a
         WHERE a.event_type = 'appeal-ruling' AND a.payload ->> 'outcome' = 'overturned'
           AND a.id NOT IN (SELECT id FROM rescinded WHERE id IS NOT NULL)
        UNION
        -- 0010: a ruling on an appeal rules on what the appeal is lodged against.
        SELECT ap.payload ->> 'against' FROM ev a JOIN ev ap ON ap.id = a.payload ->> 'appealed' AND ap.event_type = 'appeal'
         WHERE a.event_type = 'appeal-ruling' AND a.payload ->> 'outcome' = 'overturned'
           AND a.id NOT IN (SELECT id FROM rescinded WHERE id IS NOT NULL)
           AND ap.id NOT IN (SELECT id FROM rescinded WHERE id IS NOT NULL)
    ),
    corrections AS (
        SELECT c.position, c.payload FROM ev c
         WHERE c.event_type = 'correction' AND c.id NOT IN (SELECT id FROM voided WHERE id IS NOT NULL)
    ),
    moves AS (
        SELECT m.position,
               coalesce((SELECT (c.payload ->> 'correctedEffective')::date FROM corrections c
                          WHERE c.payload ->> 'corrects' = m.id AND c.payload ? 'correctedEffective'
                          ORDER BY c.position DESC LIMIT 1), m.effective) AS effective,
               coalesce((SELECT c.payload ->> 'city' FROM corrections c
                          WHERE c.payload ->> 'corrects' = m.id AND c.payload ? 'city'
                          ORDER BY c.position DESC LIMIT 1), m.payload ->> 'city') AS city,
               coalesce((SELECT c.payload ->> 'district' FROM corrections c
                          WHERE c.payload ->> 'corrects' = m.id AND c.payload ? 'district'
                          ORDER BY c.position DESC LIMIT 1), m.payload ->> 'district') AS district
          FROM ev m
         WHERE m.event_type IN ('hire', 'transfer') AND m.id NOT IN (SELECT id FROM voided WHERE id IS NOT NULL)
    )
    SELECT m.position, m.effective,
           coalesce(m.city, (SELECT c2.city FROM moves c2
                              WHERE c2.city IS NOT NULL AND (c2.effective, c2.position) < (m.effective, m.position)
                              ORDER BY c2.effective DESC, c2.position DESC LIMIT 1)),
           m.district
      FROM moves m
     ORDER BY m.effective, m.position;
END
$fn$;
ALTER FUNCTION dossier.moves_of(text, bigint) OWNER TO dossier_owner;

-- The structural rules of 0006, and those of selections and appeals (see the top of this file).
CREATE OR REPLACE FUNCTION dossier.structural_problem(p_first bigint, p_last bigint) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    e record;
    t record;
    v_target text;
    v_void boolean;
    v_field text;
    v_worker text;
    v_list text;
    v_place record;
    v_city text;
    v_district text;
BEGIN
    FOR e IN SELECT ev.position, ev.stream, ev.event_type, ev.payload, ev.effective, ev.event_id
               FROM dossier.events ev
              WHERE ev.position BETWEEN p_first AND p_last
                AND ev.event_type IN ('correction', 'rescission', 'appeal-ruling', 'fault-tolerance', 'selection', 'appeal')
              ORDER BY ev.position LOOP
        IF e.event_type = 'selection' THEN
            FOREACH v_list IN ARRAY ARRAY['selected', 'passedOver'] LOOP
                IF jsonb_typeof(e.payload -> v_list) <> 'array' OR jsonb_array_length(e.payload -> v_list) > 200 THEN
                    RETURN format('selection at position %s: %s must be a list of at most 200 worker ids', e.position, v_list);
                END IF;
                IF EXISTS (SELECT FROM jsonb_array_elements(e.payload -> v_list) x
                            WHERE jsonb_typeof(x) <> 'string' OR (x #>> '{}') !~ '^[^/[:space:][:cntrl:]   -     　﻿]{1,64}$') THEN
                    RETURN format('selection at position %s: %s must hold worker ids only', e.position, v_list);
                END IF;
                IF (SELECT count(*) <> count(DISTINCT x) FROM jsonb_array_elements_text(e.payload -> v_list) x) THEN
                    RETURN format('selection at position %s: %s names a worker twice', e.position, v_list);
                END IF;
            END LOOP;
            IF jsonb_array_length(e.payload -> 'selected') + jsonb_array_length(e.payload -> 'passedOver') = 0 THEN
                RETURN format('selection at position %s names no worker', e.position);
            END IF;
            SELECT x INTO v_worker FROM jsonb_array_elements_text(e.payload -> 'selected') x
             WHERE (e.payload -> 'passedOver') ? x LIMIT 1;
            IF FOUND THEN
                RETURN format('selection at position %s: %s is both selected and passed over', e.position, v_worker);
            END IF;
            v_city := split_part(substr(e.stream, 14), '/', 1);
            v_district := nullif(split_part(substr(e.stream, 14), '/', 2), '');
            FOR v_worker IN SELECT x FROM jsonb_array_elements_text((e.payload -> 'selected') || (e.payload -> 'passedOver')) x LOOP
                IF NOT EXISTS (SELECT FROM dossier.events h
                                WHERE h.stream = 'worker/' || v_worker AND h.event_type = 'hire' AND h.position < e.position) THEN
                    RETURN format('selection at position %s: no hire of worker %s is recorded', e.position, v_worker);
                END IF;
                SELECT * INTO v_place FROM dossier.placement_on('worker/' || v_worker, e.effective, e.position, false);
                IF v_place.city IS DISTINCT FROM v_city OR (v_district IS NOT NULL AND v_place.district IS DISTINCT FROM v_district) THEN
                    RETURN format('selection at position %s: worker %s was not placed in %s on %s', e.position, v_worker,
                                  substr(e.stream, 14), e.effective);
                END IF;
            END LOOP;
            CONTINUE;
        END IF;
        v_target := coalesce(e.payload ->> 'corrects', e.payload ->> 'rescinds', e.payload ->> 'appealed',
                             e.payload ->> 'misconduct', e.payload ->> 'against');
        -- By event id (its unique index), then checked to be an earlier event of the same record.
        SELECT x.event_id, x.event_type, x.stream, x.position, x.payload INTO t FROM dossier.events x
         WHERE x.event_id = v_target::uuid;
        IF e.event_type = 'appeal' THEN
            IF NOT FOUND OR t.position >= e.position THEN
                RETURN format('appeal at position %s: event %s is not recorded', e.position, v_target);
            ELSIF t.event_type = 'selection' THEN
                IF NOT ((t.payload -> 'selected') || (t.payload -> 'passedOver')) ? substr(e.stream, 8) THEN
                    RETURN format('appeal at position %s: the selection %s does not name %s', e.position, v_target,
                                  substr(e.stream, 8));
                END IF;
            ELSIF t.stream <> e.stream THEN
                RETURN format('appeal at position %s: event %s is not a decision of %s nor a selection naming the worker',
                              e.position, v_target, e.stream);
            ELSIF t.event_type IN ('correction', 'rescission', 'appeal-ruling', 'appeal') THEN
                RETURN format('appeal at position %s is lodged against a %s', e.position, t.event_type);
            END IF;
            IF EXISTS (SELECT FROM dossier.events o
                        WHERE o.stream = e.stream AND o.event_type = 'appeal' AND o.position < e.position
                          AND o.payload ->> 'against' = v_target
                          AND NOT EXISTS (SELECT FROM dossier.events r
                                           WHERE r.stream = e.stream AND r.position < e.position
                                             AND ((r.event_type = 'rescission' AND r.payload ->> 'rescinds' = o.event_id::text)
                                               OR (r.event_type = 'appeal-ruling' AND r.payload ->> 'appealed' = o.event_id::text)))) THEN
                RETURN format('appeal at position %s: an appeal against event %s is still open', e.position, v_target);
            END IF;
            IF t.stream <> e.stream THEN
                CONTINUE;
            END IF;
        ELSIF NOT FOUND OR t.stream <> e.stream OR t.position >= e.position THEN
            RETURN format('%s at position %s: event %s is not an earlier decision of %s', e.event_type, e.position,
                          v_target, e.stream);
        END IF;
        -- The record's rescissions and rulings, read through its own index; a ruling on an
        -- appeal overturns what the appeal is lodged against.
        WITH s AS MATERIALIZED (
            SELECT r.event_id::text AS id, r.event_type, r.payload, r.position FROM dossier.events r
             WHERE r.stream = e.stream AND r.event_type IN ('rescission', 'appeal-ruling', 'appeal'))
        SELECT EXISTS (SELECT FROM s r
                        WHERE r.position < e.position
                          AND ((r.event_type = 'rescission' AND r.payload ->> 'rescinds' = v_target)
                            OR (r.event_type = 'appeal-ruling' AND r.payload ->> 'outcome' = 'overturned'
                                AND (r.payload ->> 'appealed' = v_target
                                     OR EXISTS (SELECT FROM s a WHERE a.event_type = 'appeal' AND a.id = r.payload ->> 'appealed'
                                                   AND a.payload ->> 'against' = v_target
                                                   AND NOT EXISTS (SELECT FROM s q
                                                                    WHERE q.position < e.position AND q.event_type = 'rescission'
                                                                      AND q.payload ->> 'rescinds' = a.id)))
                                AND NOT EXISTS (SELECT FROM s q
                                                 WHERE q.position < e.position AND q.event_type = 'rescission'
                                                   AND q.payload ->> 'rescinds' = r.id))))
          INTO v_void;
        IF e.event_type = 'fault-tolerance' AND t.event_type <> 'misconduct' THEN
            RETURN format('fault-tolerance at position %s rules on a %s, not a misconduct', e.position, t.event_type);
        ELSIF e.event_type IN ('correction', 'appeal-ruling')
            AND t.event_type IN ('correction', 'rescission', 'appeal-ruling') THEN
            RETURN format('%s at position %s points at a %s', e.event_type, e.position, t.event_type);
        ELSIF e.event_type = 'rescission' AND t.event_type = 'rescission' THEN
            RETURN format('rescission at position %s rescinds a rescission', e.position);
        ELSIF e.event_type IN ('correction', 'rescission', 'appeal-ruling', 'appeal') AND v_void THEN
            RETURN format('%s at position %s points at event %s, which is already rescinded or overturned',
                          e.event_type, e.position, v_target);
        END IF;
        IF e.event_type = 'appeal-ruling' AND t.event_type = 'appeal'
            AND EXISTS (SELECT FROM dossier.events r
                         WHERE r.stream = e.stream AND r.event_type = 'appeal-ruling' AND r.position < e.position
                           AND r.payload ->> 'appealed' = v_target
                           AND NOT EXISTS (SELECT FROM dossier.events q
                                            WHERE q.stream = e.stream AND q.event_type = 'rescission' AND q.position < e.position
                                              AND q.payload ->> 'rescinds' = r.event_id::text)) THEN
            RETURN format('appeal-ruling at position %s: the appeal %s was already ruled on', e.position, v_target);
        END IF;
        IF e.event_type = 'correction' THEN
            IF t.event_type = 'appeal' AND e.payload ? 'against' THEN
                RETURN format('correction at position %s: what an appeal is lodged against cannot be corrected', e.position);
            END IF;
            SELECT k INTO v_field FROM jsonb_object_keys(e.payload) k
             WHERE k NOT IN ('corrects', 'correctedEffective', 'override', 'exceptions', 'personal')
               AND NOT EXISTS (SELECT FROM dossier.event_fields f WHERE f.event_type = t.event_type AND f.field = k)
             LIMIT 1;
            IF FOUND THEN
                RETURN format('correction at position %s: "%s" is not a field of the %s it corrects', e.position,
                              v_field, t.event_type);
            END IF;
        END IF;
    END LOOP;
    RETURN NULL;
END
$fn$;
ALTER FUNCTION dossier.structural_problem(bigint, bigint) OWNER TO dossier_owner;
