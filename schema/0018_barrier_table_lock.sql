-- 0018: the import barrier as a table lock (issue 16).
--
-- Every decision took the import barrier as a shared row lock on dossier.append_locks ('barrier'),
-- twice (begin_decision and append_to_stream), and an import took it exclusively (FOR UPDATE). A
-- row locked FOR SHARE by several transactions at once is locked through a multixact that each
-- new sharer writes into the row (a tuple write and WAL per decision, twice). As a table lock the
-- barrier writes nothing: writers take ROW SHARE (which only EXCLUSIVE and stronger modes conflict
-- with), an import takes EXCLUSIVE (which waits for every writer and makes every writer wait, as
-- before). Only the owner may lock the table (nobody else has a privilege on it), so no role can
-- take the barrier to stop writes. The functions are patched where they take the barrier; every
-- other line stays as it is. (Measured: within the machine's noise for one and eight writers; the
-- Lock:tuple waits of eight writers are the queue for the position row, not this barrier.)
DO $barrier$
DECLARE
    f record;
    v_old text;
    v_new text;
    v_patched integer := 0;
BEGIN
    FOR f IN
        SELECT p.oid FROM pg_proc p
         WHERE p.pronamespace IN ('dossier'::regnamespace, 'dossier_read'::regnamespace)
           AND p.prosrc LIKE '%append_locks WHERE name = ''barrier''%'
    LOOP
        v_old := pg_get_functiondef(f.oid);
        v_new := replace(replace(v_old,
            $a$PERFORM 1 FROM dossier.append_locks WHERE name = 'barrier' FOR SHARE;$a$,
            $b$LOCK TABLE dossier.append_locks IN ROW SHARE MODE;$b$),
            $a$PERFORM 1 FROM dossier.append_locks WHERE name = 'barrier' FOR UPDATE;$a$,
            $b$LOCK TABLE dossier.append_locks IN EXCLUSIVE MODE;$b$);
        IF v_new = v_old THEN
            RAISE EXCEPTION 'function % takes the barrier in a way 0018 does not know', f.oid::regprocedure;
        END IF;
        EXECUTE v_new;
        v_patched := v_patched + 1;
    END LOOP;
    IF v_patched < 4 THEN
        RAISE EXCEPTION 'only % functions took the import barrier; expected at least 4', v_patched;
    END IF;
    IF EXISTS (SELECT FROM pg_proc p WHERE p.pronamespace IN ('dossier'::regnamespace, 'dossier_read'::regnamespace)
                AND p.prosrc LIKE '%append_locks WHERE name = ''barrier''%') THEN
        RAISE EXCEPTION 'a function still takes the barrier as a row lock';
    END IF;
END
$barrier$;
