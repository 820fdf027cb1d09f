-- 0012: the policy parameter `faultRulingDays` (issue 13, `dossier due`): how many days after a
-- misconduct's effective date a fault-tolerance ruling is due. A whole number of days from 1 to
-- 3650; 60 when no policy sets it (Sources/DossierDomain/Policy/Policy.swift).
--
-- The database refuses policy parameters it does not know (dossier.event_problem, 0006), so it
-- must learn this one. Other migrations written beside this one may also replace event_problem;
-- rather than restate the whole function as 0006 wrote it (and undo theirs), this adds one branch
-- to the function as it stands: the rule for `faultRulingDays`, before the rule for `postRoles`.
-- It fails, changing nothing, if that anchor is missing.
DO $fault_ruling_days$
DECLARE
    v_function regprocedure :=
        'dossier.event_problem(text[], text[], jsonb[], date[], text[], text[], smallint[], boolean)'::regprocedure;
    v_anchor constant text := $a$WHEN kv.key = 'postRoles' THEN$a$;
    v_rule constant text := $r$WHEN kv.key = 'faultRulingDays' THEN
                        jsonb_typeof(kv.value) = 'number'
                        AND CASE WHEN (kv.value #>> '{}') ~ '^\d{1,4}$' THEN (kv.value #>> '{}')::int BETWEEN 1 AND 3650
                                 ELSE false END
                   $r$;
    v_old text;
    v_new text;
BEGIN
    v_old := pg_get_functiondef(v_function);
    IF position('''faultRulingDays''' IN v_old) > 0 THEN
        RETURN;
    END IF;
    IF position(v_anchor IN v_old) = 0 THEN
        RAISE EXCEPTION 'dossier.event_problem has no "%" branch to put the faultRulingDays rule before', v_anchor;
    END IF;
    v_new := replace(v_old, v_anchor, v_rule || v_anchor);
    EXECUTE v_new;
END
$fault_ruling_days$;
