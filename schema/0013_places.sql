-- 0013: the gazetteer as events (issue 12).
--
-- place  (jurisdiction stream) a city, district, street or community established, renamed (with
--        newName), merged into another of its kind (with into, its path) or abolished, on its
--        effective date. A city and its districts are recorded in the city's stream
--        (jurisdiction/City), a street and a community in their district's
--        (jurisdiction/City/District): so dossier.check_scope (0006) lets a district's hr clerk
--        record the streets and communities of their own district, and only a clerk with the
--        city in scope its districts, exactly as it scopes population decisions.
--
-- The database refuses what Dossier would refuse about a place decision's shape (Dossier also
-- checks it against the gazetteer: the parent exists on the date, the name is free among its
-- siblings, the place renamed, merged or abolished exists): the kind and action; `within` a path
-- of as many names as the kind has parents; the stream the place belongs in; newName only and
-- always on a rename; into only and always on a merge, a path of a place of the same kind within
-- the same jurisdiction (a district clerk merges only their own district's communities). A row
-- trigger of its own (no function of another migration is replaced).
--
-- Temporary posts may now say where their community lies: street, district and city (optional,
-- so temporary posts recorded before stay valid).
--
-- A merge or a rename moves what projections report from its date without rewriting any
-- record: dossier.place_in_force maps a placement as recorded to the place in force on a date,
-- and dossier_read.workers_as_of (0011, which roster_as_of, quota_as_of, headcount_by_year and
-- the candidate lists read) reports the place in force. workers_as_of is patched textually (like
-- 0012 patches event_problem) so that other migrations written beside this one compose.

INSERT INTO dossier.event_types VALUES ('place', 'jurisdiction');

INSERT INTO dossier.event_fields (event_type, field, kind, required, choices, min_value, max_value, max_length) VALUES
    ('place', 'kind', 'text', true, ARRAY['city', 'district', 'street', 'community'], NULL, NULL, NULL),
    ('place', 'action', 'text', true, ARRAY['establish', 'rename', 'merge', 'abolish'], NULL, NULL, NULL),
    ('place', 'name', 'text', true, NULL, NULL, NULL, 100),
    ('place', 'within', 'text', false, NULL, NULL, NULL, 302),
    ('place', 'newName', 'text', false, NULL, NULL, NULL, 100),
    ('place', 'into', 'text', false, NULL, NULL, NULL, 403),
    ('place', 'override', 'text', false, NULL, NULL, NULL, 2000),
    ('place', 'exceptions', 'array', false, NULL, NULL, NULL, NULL),
    ('temporary-post', 'street', 'text', false, NULL, NULL, NULL, 100),
    ('temporary-post', 'district', 'text', false, NULL, NULL, NULL, 100),
    ('temporary-post', 'city', 'text', false, NULL, NULL, NULL, 100);

CREATE FUNCTION dossier.refuse_misplaced_place() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_depth integer := array_position(ARRAY['city', 'district', 'street', 'community'], NEW.payload ->> 'kind');
    v_action text := NEW.payload ->> 'action';
    v_name text := NEW.payload ->> 'name';
    v_within text[] := CASE WHEN NEW.payload ? 'within' THEN string_to_array(NEW.payload ->> 'within', '/') ELSE '{}' END;
    v_into text[] := string_to_array(NEW.payload ->> 'into', '/');
    v_home text;
    v_problem text;
BEGIN
    IF v_depth IS NULL OR v_name IS NULL THEN
        v_problem := 'a place decision needs kind (city, district, street or community) and name';
    ELSIF position('/' IN v_name) > 0 OR position('/' IN coalesce(NEW.payload ->> 'newName', '')) > 0 THEN
        v_problem := 'a place''s name must not contain a slash';
    ELSIF coalesce(cardinality(v_within), 0) <> v_depth - 1 OR '' = ANY (v_within) THEN
        v_problem := format('a %s lies within a path of %s names, found "%s"', NEW.payload ->> 'kind', v_depth - 1,
                            coalesce(NEW.payload ->> 'within', ''));
    END IF;
    IF v_problem IS NULL THEN
        v_home := CASE WHEN v_depth = 1 THEN v_name ELSE array_to_string(v_within[1:least(v_depth - 1, 2)], '/') END;
        IF NEW.stream <> 'jurisdiction/' || v_home THEN
            v_problem := format('a %s %s is recorded in jurisdiction/%s, not %s', NEW.payload ->> 'kind', v_name, v_home,
                                NEW.stream);
        ELSIF (v_action = 'rename') <> (NEW.payload ? 'newName') THEN
            v_problem := 'a rename, and only a rename, gives newName';
        ELSIF (v_action = 'merge') <> (NEW.payload ? 'into') THEN
            v_problem := 'a merge, and only a merge, gives into';
        ELSIF v_action = 'merge' AND (cardinality(v_into) <> v_depth OR '' = ANY (v_into)
                                      OR (v_depth > 1 AND array_to_string(v_into[1:least(v_depth - 1, 2)], '/') <> v_home)) THEN
            v_problem := format('a %s of %s merges only into another %s of %s (a path of %s names)', NEW.payload ->> 'kind',
                                v_home, NEW.payload ->> 'kind', v_home, v_depth);
        END IF;
    END IF;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011',
            MESSAGE = format('refused: place %s at position %s: %s', NEW.reference, NEW.position, v_problem);
    END IF;
    RETURN NEW;
END
$fn$;
ALTER FUNCTION dossier.refuse_misplaced_place() OWNER TO dossier_owner;
CREATE TRIGGER events_place_shape BEFORE INSERT ON dossier.events
    FOR EACH ROW WHEN (NEW.event_type = 'place') EXECUTE FUNCTION dossier.refuse_misplaced_place();

-- The renames and merges, in the order they apply.
CREATE INDEX events_place_moves ON dossier.events (effective, position)
    WHERE event_type = 'place' AND payload ->> 'action' IN ('rename', 'merge');

-- True when some rename or merge is effective by p_as_of (as known at p_known_at): only then is
-- a placement mapped at all.
CREATE FUNCTION dossier.places_moved(p_as_of date, p_known_at timestamptz DEFAULT NULL) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT EXISTS (SELECT FROM dossier.events e
                    WHERE e.event_type = 'place' AND e.payload ->> 'action' IN ('rename', 'merge')
                      AND e.effective <= p_as_of AND (p_known_at IS NULL OR e.recorded_at <= p_known_at)
                      AND NOT EXISTS (SELECT FROM dossier.events r
                                       WHERE r.stream = e.stream AND r.event_type = 'rescission'
                                         AND r.payload ->> 'rescinds' = e.event_id::text
                                         AND (p_known_at IS NULL OR r.recorded_at <= p_known_at)))
$fn$;

-- Where a placement recorded as (city, district, street, community) lies on p_as_of: each
-- rename and merge effective by then, in effective order, replaces the part of the path it names
-- (a rename the place's own name, a merge the whole path up to the place by the path it merged
-- into). What lies in a merged place moves with it. A rescinded rename or merge is left out (a
-- correction of one is not applied here). A name used again for a new place after a merge is not
-- told apart from the old one here (Dossier's PlaceBook does).
CREATE FUNCTION dossier.place_in_force(p_city text, p_district text, p_street text, p_community text, p_as_of date,
                                       p_known_at timestamptz DEFAULT NULL)
RETURNS TABLE (city text, district text, street text, community text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v text[] := ARRAY[p_city, p_district, p_street, p_community];
    v_path text[];
    v_depth integer;
    m record;
BEGIN
    FOR m IN SELECT e.payload FROM dossier.events e
              WHERE e.event_type = 'place' AND e.payload ->> 'action' IN ('rename', 'merge')
                AND e.effective <= p_as_of AND (p_known_at IS NULL OR e.recorded_at <= p_known_at)
                AND NOT EXISTS (SELECT FROM dossier.events r
                                 WHERE r.stream = e.stream AND r.event_type = 'rescission'
                                   AND r.payload ->> 'rescinds' = e.event_id::text
                                   AND (p_known_at IS NULL OR r.recorded_at <= p_known_at))
              ORDER BY e.effective, e.position LOOP
        v_depth := array_position(ARRAY['city', 'district', 'street', 'community'], m.payload ->> 'kind');
        v_path := CASE WHEN m.payload ? 'within' THEN string_to_array(m.payload ->> 'within', '/') ELSE '{}' END
                  || (m.payload ->> 'name');
        IF v_depth IS NULL OR v[1:v_depth] IS DISTINCT FROM v_path THEN
            CONTINUE;
        END IF;
        IF m.payload ->> 'action' = 'rename' THEN
            v[v_depth] := m.payload ->> 'newName';
        ELSE
            v := string_to_array(m.payload ->> 'into', '/') || v[v_depth + 1:4];
        END IF;
    END LOOP;
    RETURN QUERY SELECT v[1], v[2], v[3], v[4];
END
$fn$;

DO $grants$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['dossier.places_moved(date, timestamptz)',
                             'dossier.place_in_force(text, text, text, text, date, timestamptz)'] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO dossier_owner', f);
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO dossier_reader, dossier_writer', f);
    END LOOP;
END
$grants$;

-- workers_as_of reports the place in force: the placement as recorded, mapped through the
-- renames and merges effective by the date (only when there are any: the mapping is skipped by
-- a one-time test otherwise).
DO $workers_in_force$
DECLARE
    v_function constant regprocedure := 'dossier_read.workers_as_of(date, timestamptz)'::regprocedure;
    v_from constant text := 'FROM dossier_read.worker_timeline t';
    v_join constant text := 'FROM dossier_read.worker_timeline t
      LEFT JOIN LATERAL dossier.place_in_force(t.city, t.district, t.street, t.community, p_as_of, p_known_at) pl
             ON dossier.places_moved(p_as_of, p_known_at)';
    v_columns constant text := 't.community, t.street, t.district, t.city';
    v_mapped constant text :=
        'coalesce(pl.community, t.community), coalesce(pl.street, t.street), coalesce(pl.district, t.district), coalesce(pl.city, t.city)';
    v_old text;
BEGIN
    v_old := pg_get_functiondef(v_function);
    IF position('dossier.place_in_force' IN v_old) > 0 THEN
        RETURN;
    END IF;
    IF position(v_from IN v_old) = 0 OR position(v_columns IN v_old) = 0 THEN
        RAISE EXCEPTION 'dossier_read.workers_as_of has no "%" or no "%" to map places in', v_from, v_columns;
    END IF;
    EXECUTE replace(replace(v_old, v_from, v_join), v_columns, v_mapped);
END
$workers_in_force$;

-- A temporary post that names its community's district and city is in that district's scope
-- (the same community name in two districts is told apart); one without them (recorded before)
-- keeps the rule of 0006: wherever placements know the community. check_scope is patched
-- textually, a branch before the cadre branch of 0006, so other migrations' patches compose.
DO $cadre_scope$
DECLARE
    v_function constant regprocedure := 'dossier.check_scope(text, text, bigint[])'::regprocedure;
    v_anchor constant text := $a$ELSIF e.stream LIKE 'cadre/%' THEN$a$;
    v_branch constant text := $b$ELSIF e.stream LIKE 'cadre/%' AND EXISTS (
                SELECT FROM (SELECT t.payload FROM dossier.events t
                              WHERE t.stream = e.stream AND t.event_type = 'temporary-post' AND t.position <= e.position
                              ORDER BY t.position DESC LIMIT 1) last_post
                 WHERE last_post.payload ? 'district' AND last_post.payload ? 'city') THEN
            SELECT t.payload ->> 'city' || '/' || (t.payload ->> 'district'),
                   dossier.covers(v_scopes, t.payload ->> 'city', t.payload ->> 'district')
              INTO v_places, v_ok
              FROM dossier.events t
             WHERE t.stream = e.stream AND t.event_type = 'temporary-post' AND t.position <= e.position
             ORDER BY t.position DESC LIMIT 1;
        $b$;
    v_old text;
BEGIN
    v_old := pg_get_functiondef(v_function);
    IF position($m$payload ? 'district' AND last_post.payload$m$ IN v_old) > 0 THEN
        RETURN;
    END IF;
    IF position(v_anchor IN v_old) = 0 THEN
        RAISE EXCEPTION 'dossier.check_scope has no "%" branch to put the district of a temporary post before', v_anchor;
    END IF;
    EXECUTE replace(v_old, v_anchor, v_branch || v_anchor);
END
$cadre_scope$;
