-- 0014: facts no override bends, overrides that name their approval, and the seniority
-- parameter (issue 12).
--
-- 1. `overrideApproval`: who approved an override (the approving document's reference, 1 to 100
--    characters like `reference`), beside `override` (why). Every event type that accepts
--    `override` accepts `overrideApproval` (data in dossier.event_fields); a type that learns
--    `override` later (a later migration's new decision kind) learns `overrideApproval` with it,
--    by a trigger. An event carrying one of the two without the other is refused: Dossier asks
--    for both, and so does the database for any other writer. Events recorded before this
--    migration keep their override without an approval (the exceptions list shows it missing).
-- 2. dossier_read.policy_exceptions (the documented view of overrides) gains the column
--    `override_approval`.
-- 3. The policy parameter `seniorityYearsPerLevel` (full years at the current level for one level
--    up on seniority grounds; a whole number from 1 to 20; 3 when no policy sets it, see
--    Sources/DossierDomain/Policy/Policy.swift).
--
-- dossier.event_problem and dossier_read.create_views are patched as they stand (0012's way):
-- one branch added at an anchor each, failing and changing nothing when the anchor is missing,
-- so that migrations written beside this one compose.

INSERT INTO dossier.event_fields (event_type, field, kind, required, max_length)
SELECT f.event_type, 'overrideApproval', 'text', false, 100
  FROM dossier.event_fields f
 WHERE f.field = 'override'
ON CONFLICT DO NOTHING;

CREATE FUNCTION dossier.override_approval_follows() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NEW.field = 'override' THEN
        INSERT INTO dossier.event_fields (event_type, field, kind, required, max_length)
        VALUES (NEW.event_type, 'overrideApproval', 'text', false, 100)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$fn$;
ALTER FUNCTION dossier.override_approval_follows() OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.override_approval_follows() FROM PUBLIC;
CREATE TRIGGER override_approval_follows AFTER INSERT ON dossier.event_fields
    FOR EACH ROW EXECUTE FUNCTION dossier.override_approval_follows();

DO $rules$
DECLARE
    v_function regprocedure :=
        'dossier.event_problem(text[], text[], jsonb[], date[], text[], text[], smallint[], boolean)'::regprocedure;
    v_parameter_anchor constant text := $a$WHEN kv.key = 'postRoles' THEN$a$;
    v_parameter_rule constant text := $r$WHEN kv.key = 'seniorityYearsPerLevel' THEN
                        jsonb_typeof(kv.value) = 'number'
                        AND CASE WHEN (kv.value #>> '{}') ~ '^\d{1,4}$' THEN (kv.value #>> '{}')::int BETWEEN 1 AND 20
                                 ELSE false END
                   $r$;
    v_pair_anchor constant text := $a$SELECT e.ord, format('event %s: a policy must set at least one parameter', e.ord)$a$;
    v_pair_rule constant text := $r$SELECT e.ord, format('event %s: %s', e.ord,
                             CASE WHEN e.payload ? 'override'
                                  THEN 'override needs overrideApproval (the reference of the document approving it)'
                                  ELSE 'overrideApproval is given only with override (the justification)' END)
          FROM e WHERE jsonb_typeof(e.payload) = 'object' AND (e.payload ? 'override') <> (e.payload ? 'overrideApproval')
        UNION ALL
        $r$;
    v_old text;
    v_new text;
BEGIN
    v_old := pg_get_functiondef(v_function);
    v_new := v_old;
    IF position('''seniorityYearsPerLevel''' IN v_new) = 0 THEN
        IF position(v_parameter_anchor IN v_new) = 0 THEN
            RAISE EXCEPTION 'dossier.event_problem has no "%" branch to put the seniorityYearsPerLevel rule before',
                v_parameter_anchor;
        END IF;
        v_new := replace(v_new, v_parameter_anchor, v_parameter_rule || v_parameter_anchor);
    END IF;
    IF position('overrideApproval' IN v_new) = 0 THEN
        IF position(v_pair_anchor IN v_new) = 0 THEN
            RAISE EXCEPTION 'dossier.event_problem has no "%" branch to put the override pairing rule before', v_pair_anchor;
        END IF;
        v_new := replace(v_new, v_pair_anchor, v_pair_rule || v_pair_anchor);
    END IF;
    IF v_new <> v_old THEN
        EXECUTE v_new;
    END IF;
END
$rules$;

DO $exceptions_view$
DECLARE
    v_function regprocedure := 'dossier_read.create_views()'::regprocedure;
    v_anchor constant text := $a$override, exceptions
          FROM dossier_read.audit_trail WHERE override IS NOT NULL;$a$;
    v_with constant text := $r$override, exceptions,
               (SELECT ev.payload ->> 'overrideApproval' FROM dossier.events ev
                 WHERE ev.event_id = audit_trail.event_id) AS override_approval
          FROM dossier_read.audit_trail WHERE override IS NOT NULL;$r$;
    v_old text;
BEGIN
    v_old := pg_get_functiondef(v_function);
    IF position('override_approval' IN v_old) > 0 THEN
        RETURN;
    END IF;
    IF position(v_anchor IN v_old) = 0 THEN
        RAISE EXCEPTION 'dossier_read.create_views has no policy_exceptions view ending "%" to add override_approval to', v_anchor;
    END IF;
    EXECUTE replace(v_old, v_anchor, v_with);
END
$exceptions_view$;
SET LOCAL ROLE dossier_owner;
SELECT dossier_read.drop_views();
SELECT dossier_read.create_views();
RESET ROLE;
GRANT SELECT ON ALL TABLES IN SCHEMA dossier_read TO dossier_reader;
