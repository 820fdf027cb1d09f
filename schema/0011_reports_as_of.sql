-- 0011: the auditors' views on any date, as known at any time.
--
-- The views of 0003 answer for today as known now. These set-returning functions answer the
-- same questions for a date (and, where the projection keeps recorded time, as known at a
-- time), so a psql user writes `SELECT * FROM dossier_read.roster_as_of('2019-12-31')` instead of
-- a window query. `dossier quota` and `dossier report headcount` read quota_as_of and
-- headcount_by_year, so the command line and SQL give one answer.
--
-- All are SECURITY INVOKER (the caller's grants apply), STABLE, with string bodies and their own
-- column lists (no table row types): a rebuild drops the projection tables and swaps new ones in
-- under them, and they find the new ones by name at the next call.
-- Each pins search_path so a caller's own objects cannot stand in for the ledger's.

-- Every worker's record on p_as_of, as known at p_known_at (now when NULL): one row per worker
-- hired by then, the columns of dossier_read.current_workers.
CREATE FUNCTION dossier_read.workers_as_of(p_as_of date, p_known_at timestamptz DEFAULT NULL)
RETURNS TABLE (worker text, status text, exit_kind text, post text, role text, level integer, community text,
               street text, district text, city text, establishment text, service_start date,
               monthly_subsidy integer, level_up boolean, level_up_reason text, public_institution boolean,
               public_institution_reason text, exit_review boolean, exit_review_reason text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT t.worker, t.status, t.exit_kind, t.post, t.role, t.level, t.community, t.street, t.district, t.city,
           t.establishment, t.service_start, t.monthly_subsidy, t.level_up, t.level_up_reason, t.public_institution,
           t.public_institution_reason, t.exit_review, t.exit_review_reason
      FROM dossier_read.worker_timeline t
     WHERE t.valid_from <= p_as_of AND (t.valid_until IS NULL OR t.valid_until > p_as_of)
       AND ((p_known_at IS NULL AND t.recorded_until IS NULL)
            OR (t.recorded_from <= p_known_at AND (t.recorded_until IS NULL OR t.recorded_until > p_known_at)))
$fn$;
COMMENT ON FUNCTION dossier_read.workers_as_of(date, timestamptz) IS
    'Every worker''s record on a date, as known at a time (now when NULL); the columns of current_workers.';

-- The workers on the roster (active or seconded) on a date, as known at a time.
CREATE FUNCTION dossier_read.roster_as_of(p_as_of date, p_known_at timestamptz DEFAULT NULL)
RETURNS TABLE (city text, district text, street text, community text, worker text, post text, role text,
               level integer, status text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT w.city, w.district, w.street, w.community, w.worker, w.post, w.role, w.level, w.status
      FROM dossier_read.workers_as_of(p_as_of, p_known_at) w
     WHERE w.status IN ('active', 'seconded')
     ORDER BY w.city, w.district, w.street, w.community, w.worker
$fn$;
COMMENT ON FUNCTION dossier_read.roster_as_of(date, timestamptz) IS
    'Workers on the roster on a date, as known at a time (now when NULL), by city, district, street and community.';

CREATE FUNCTION dossier_read.level_up_candidates_as_of(p_as_of date, p_known_at timestamptz DEFAULT NULL)
RETURNS TABLE (worker text, city text, district text, community text, level integer, reason text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT w.worker, w.city, w.district, w.community, w.level, w.level_up_reason
      FROM dossier_read.workers_as_of(p_as_of, p_known_at) w WHERE w.level_up ORDER BY w.worker
$fn$;
COMMENT ON FUNCTION dossier_read.level_up_candidates_as_of(date, timestamptz) IS
    'Workers with two consecutive excellent assessments not yet used, on a date as known at a time.';

CREATE FUNCTION dossier_read.public_institution_candidates_as_of(p_as_of date, p_known_at timestamptz DEFAULT NULL)
RETURNS TABLE (worker text, city text, district text, community text, reason text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT w.worker, w.city, w.district, w.community, w.public_institution_reason
      FROM dossier_read.workers_as_of(p_as_of, p_known_at) w WHERE w.public_institution ORDER BY w.worker
$fn$;
COMMENT ON FUNCTION dossier_read.public_institution_candidates_as_of(date, timestamptz) IS
    'Party secretaries who meet the public-institution rule on a date, as known at a time.';

CREATE FUNCTION dossier_read.exit_review_cases_as_of(p_as_of date, p_known_at timestamptz DEFAULT NULL)
RETURNS TABLE (worker text, city text, district text, community text, reason text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT w.worker, w.city, w.district, w.community, w.exit_review_reason
      FROM dossier_read.workers_as_of(p_as_of, p_known_at) w WHERE w.exit_review ORDER BY w.worker
$fn$;
COMMENT ON FUNCTION dossier_read.exit_review_cases_as_of(date, timestamptz) IS
    'Workers up for exit review on a date, as known at a time.';

-- Secondments and temporary posts open on a date (as known now: the assignments projection
-- keeps no recorded time).
CREATE FUNCTION dossier_read.open_assignments_as_of(p_as_of date)
RETURNS TABLE (subject text, kind text, destination text, level text, community text, since date,
               planned_until date, ended date, event_id uuid)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT a.subject, a.kind, a.destination, a.level, a.community, a.since, a.planned_until, a.ended, a.event_id
      FROM dossier_read.assignments a
     WHERE a.since <= p_as_of AND (a.ended IS NULL OR a.ended > p_as_of)
     ORDER BY a.since, a.subject
$fn$;
COMMENT ON FUNCTION dossier_read.open_assignments_as_of(date) IS
    'Secondments and temporary posts open on a date, as known now.';

-- The urban population figure and the quota ratio of every jurisdiction with a figure, in force
-- on p_as_of as known at p_known_at, read from the log itself (population decisions in the
-- jurisdiction streams, policy decisions in the policy stream; rescinded ones left out), by the
-- rules the ledger judges hires with (DossierDomain PopulationBook and PolicyBook):
-- - per jurisdiction and year the figure recorded last counts; among the years not after
--   p_as_of's year whose figure is effective by p_as_of, the latest year is in force;
-- - the ratio is the quotaPerTenThousand of the policy decisions in force on p_as_of, the
--   district's over the city's over the general ("*") one, each the latest by effective date
--   then position; 18 when none sets it.
CREATE FUNCTION dossier_read.population_in_force(p_as_of date, p_known_at timestamptz DEFAULT NULL)
RETURNS TABLE (jurisdiction text, year integer, urban_population integer, per_ten_thousand integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    WITH known AS (
        SELECT e.event_id, e.stream, e.position, e.event_type, e.effective, e.payload
          FROM dossier.events e
         WHERE (e.stream = 'policy' OR e.stream LIKE 'jurisdiction/%')
           AND (p_known_at IS NULL OR e.recorded_at <= p_known_at)),
    rescinded AS (
        SELECT (k.payload ->> 'rescinds')::uuid AS event_id FROM known k WHERE k.event_type = 'rescission'),
    figures AS (
        SELECT DISTINCT ON (k.stream, (k.payload ->> 'year')::integer)
               substr(k.stream, length('jurisdiction/') + 1) AS jurisdiction,
               (k.payload ->> 'year')::integer AS year, (k.payload ->> 'urbanPopulation')::integer AS population,
               k.effective
          FROM known k
         WHERE k.event_type = 'population' AND k.event_id NOT IN (SELECT r.event_id FROM rescinded r WHERE r.event_id IS NOT NULL)
         ORDER BY k.stream, (k.payload ->> 'year')::integer, k.position DESC),
    in_force AS (
        SELECT DISTINCT ON (f.jurisdiction) f.jurisdiction, f.year, f.population
          FROM figures f
         WHERE f.year <= extract(year FROM p_as_of)::integer AND f.effective <= p_as_of
         ORDER BY f.jurisdiction, f.year DESC),
    ratios AS (
        SELECT k.payload ->> 'jurisdiction' AS scope, (k.payload -> 'parameters' ->> 'quotaPerTenThousand')::integer AS ratio,
               k.effective, k.position
          FROM known k
         WHERE k.event_type = 'policy' AND k.effective <= p_as_of
           AND k.payload -> 'parameters' ? 'quotaPerTenThousand'
           AND k.event_id NOT IN (SELECT r.event_id FROM rescinded r WHERE r.event_id IS NOT NULL))
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
COMMENT ON FUNCTION dossier_read.population_in_force(date, timestamptz) IS
    'The urban population figure and quota ratio in force for each jurisdiction on a date, as known at a time.';

-- Headcount against the quota per district and city on a date, as known at a time: the ratio
-- of workers per 10,000 urban residents, the approved total (quota), the gap (quota − headcount:
-- positive is a shortfall, negative is over the ceiling total control sets) and a standing of
-- 'below', 'at', 'over' or 'no-figure' (no population figure in force: the quota is unknown,
-- not met).
CREATE FUNCTION dossier_read.quota_as_of(p_as_of date, p_known_at timestamptz DEFAULT NULL)
RETURNS TABLE (jurisdiction text, headcount integer, year integer, urban_population integer, per_ten_thousand integer,
               quota integer, gap integer, ratio numeric, standing text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    WITH roster AS (
        SELECT w.city, w.district FROM dossier_read.workers_as_of(p_as_of, p_known_at) w
         WHERE w.status IN ('active', 'seconded')),
    heads AS (
        SELECT r.city || '/' || r.district AS jurisdiction, count(*)::integer AS n FROM roster r GROUP BY 1
        UNION ALL
        SELECT r.city, count(*)::integer FROM roster r GROUP BY r.city),
    figures AS (
        SELECT p.jurisdiction, p.year, p.urban_population, p.per_ten_thousand,
               (p.urban_population::bigint * p.per_ten_thousand / 10000)::integer AS quota
          FROM dossier_read.population_in_force(p_as_of, p_known_at) p)
    SELECT coalesce(f.jurisdiction, h.jurisdiction), coalesce(h.n, 0), f.year, f.urban_population, f.per_ten_thousand,
           f.quota, f.quota - coalesce(h.n, 0),
           CASE WHEN f.urban_population > 0 THEN round(coalesce(h.n, 0) * 10000.0 / f.urban_population, 2) END,
           CASE WHEN f.quota IS NULL THEN 'no-figure'
                WHEN coalesce(h.n, 0) < f.quota THEN 'below'
                WHEN coalesce(h.n, 0) = f.quota THEN 'at'
                ELSE 'over' END
      FROM figures f FULL JOIN heads h ON h.jurisdiction = f.jurisdiction
     ORDER BY 1
$fn$;
COMMENT ON FUNCTION dossier_read.quota_as_of(date, timestamptz) IS
    'Headcount, workers per 10,000 urban residents, quota and gap per district and city on a date, as known at a time.';

-- Year-end headcounts (31 December of each year from p_from to p_to) by district (with their
-- cities) or by street, as known at a time; for districts and cities the population figure,
-- ratio, quota and gap of quota_as_of on that day (streets have no population figure).
CREATE FUNCTION dossier_read.headcount_by_year(p_from integer, p_to integer, p_by text DEFAULT 'district',
                                               p_known_at timestamptz DEFAULT NULL)
RETURNS TABLE (year integer, jurisdiction text, headcount integer, urban_population integer, ratio numeric,
               quota integer, gap integer, standing text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_from > p_to OR p_from < 1900 OR p_to > 2200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'headcount_by_year needs years from 1900 to 2200, the first not after the last';
    END IF;
    IF p_by IS NULL OR p_by NOT IN ('district', 'street') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'headcount_by_year counts by ''district'' or ''street''';
    END IF;
    FOR y IN p_from .. p_to LOOP
        IF p_by = 'district' THEN
            RETURN QUERY
                SELECT y, q.jurisdiction, q.headcount, q.urban_population, q.ratio, q.quota, q.gap, q.standing
                  FROM dossier_read.quota_as_of(make_date(y, 12, 31), p_known_at) q ORDER BY q.jurisdiction;
        ELSE
            RETURN QUERY
                SELECT y, w.city || '/' || w.district || '/' || w.street, count(*)::integer, NULL::integer, NULL::numeric,
                       NULL::integer, NULL::integer, NULL::text
                  FROM dossier_read.workers_as_of(make_date(y, 12, 31), p_known_at) w
                 WHERE w.status IN ('active', 'seconded')
                 GROUP BY 2 ORDER BY 2;
        END IF;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION dossier_read.headcount_by_year(integer, integer, text, timestamptz) IS
    'Year-end headcounts by district (with ratio, quota and gap) or by street, for a range of years, as known at a time.';

DO $grants$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'dossier_read.workers_as_of(date, timestamptz)', 'dossier_read.roster_as_of(date, timestamptz)',
        'dossier_read.level_up_candidates_as_of(date, timestamptz)',
        'dossier_read.public_institution_candidates_as_of(date, timestamptz)',
        'dossier_read.exit_review_cases_as_of(date, timestamptz)', 'dossier_read.open_assignments_as_of(date)',
        'dossier_read.population_in_force(date, timestamptz)', 'dossier_read.quota_as_of(date, timestamptz)',
        'dossier_read.headcount_by_year(integer, integer, text, timestamptz)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO dossier_owner', f);
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO dossier_reader', f);
    END LOOP;
END
$grants$;
