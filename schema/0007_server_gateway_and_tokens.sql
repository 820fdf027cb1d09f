-- 0007: what `dossier serve` needs to act as the person who logged in, and tokens for scripts.
--
-- The server connects as its own login and, per request, sets `role` to the person (the actor
-- function reads current_setting('role')). PostgreSQL lets a session set `role` only to a role its
-- login is a member of, so:
--   dossier_gateway  NOLOGIN NOINHERIT; every enabled person's role is granted to it. A login
--                    granted dossier_gateway may act as any person (SET ROLE) but holds none of
--                    their rights by itself (NOINHERIT stops inheritance at the gateway). Only a
--                    superuser grants it (`dossier init` grants it to the operating-system user
--                    on the embedded default). Superuser people are never granted to it.
-- Events recorded through the server keep the server's login in `recorded_login`.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dossier_gateway') THEN
        BEGIN
            CREATE ROLE dossier_gateway NOLOGIN NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$roles$;

-- Makes dossier_gateway a member of every enabled, non-superuser person's role of this ledger and
-- of no disabled person's. Idempotent; the server calls it when it starts and before acting for a
-- person it has not acted for yet. It grants nothing anyone could not already do through the
-- server, so anyone may call it.
CREATE FUNCTION dossier.sync_gateway() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_person record;
    v_changed integer := 0;
BEGIN
    -- One at a time: concurrent grants of the same role would collide on the catalog row.
    PERFORM pg_advisory_xact_lock(1154, 0);
    FOR v_person IN
        SELECT p.name, p.disabled_at IS NOT NULL AS disabled, r.rolsuper,
               pg_has_role('dossier_gateway', r.oid, 'MEMBER') AS granted
          FROM dossier.people p JOIN pg_roles r ON r.rolname = p.name
    LOOP
        IF NOT v_person.disabled AND NOT v_person.rolsuper AND NOT v_person.granted THEN
            BEGIN
                EXECUTE format('GRANT %I TO dossier_gateway', v_person.name);
                v_changed := v_changed + 1;
            EXCEPTION WHEN duplicate_object OR unique_violation OR invalid_grant_operation OR insufficient_privilege THEN
                -- A role the owner may not grant (on newer PostgreSQL, one it did not create): the
                -- server cannot act for that person, and says so when it tries; the others go on.
                RAISE WARNING 'dossier: cannot make dossier_gateway a member of "%"', v_person.name;
            END;
        ELSIF (v_person.disabled OR v_person.rolsuper) AND EXISTS (
            SELECT FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.member
             WHERE g.rolname = 'dossier_gateway' AND m.roleid = (SELECT oid FROM pg_roles WHERE rolname = v_person.name)) THEN
            -- A disabled person is not granted again; the grant itself stays harmless since
            -- dossier.actor() refuses disabled people, but it is taken back.
            EXECUTE format('REVOKE %I FROM dossier_gateway', v_person.name);
            v_changed := v_changed + 1;
        END IF;
    END LOOP;
    RETURN v_changed;
END
$fn$;
ALTER FUNCTION dossier.sync_gateway() OWNER TO dossier_owner;
GRANT EXECUTE ON FUNCTION dossier.sync_gateway() TO PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- API tokens: a script sends `Authorization: Bearer TOKEN` and acts as the token's person. Only the
-- SHA-256 of a token is stored; the token itself is shown once, to the person who asked for it.
CREATE TABLE dossier.api_tokens (
    token_id   uuid        PRIMARY KEY,
    person     text        NOT NULL REFERENCES dossier.people (name),
    token_hash bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    issued_at  timestamptz NOT NULL,
    issued_by  text        NOT NULL,
    revoked_at timestamptz,
    revoked_by text,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
ALTER TABLE dossier.api_tokens OWNER TO dossier_owner;
REVOKE ALL ON dossier.api_tokens FROM PUBLIC;

INSERT INTO dossier.event_types VALUES ('token-issued', 'access'), ('tokens-revoked', 'access');
INSERT INTO dossier.event_fields (event_type, field, kind, required, choices, min_value, max_value, max_length) VALUES
    ('token-issued', 'person', 'text', true, NULL, NULL, NULL, 63),
    ('token-issued', 'token', 'uuid', true, NULL, NULL, NULL, NULL),
    ('tokens-revoked', 'person', 'text', true, NULL, NULL, NULL, 63),
    ('tokens-revoked', 'revoked', 'integer', true, NULL, 0, 1000000, NULL);

-- Who may manage a person's tokens: the person, or an admin.
CREATE FUNCTION dossier.require_self_or_admin(p_person text, OUT name text, OUT login text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF v_actor.name IS DISTINCT FROM p_person AND v_actor.role <> 'admin' THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010',
            MESSAGE = format('"%s" may manage only their own tokens (an admin manages anyone''s)', v_actor.name);
    END IF;
    IF NOT EXISTS (SELECT FROM dossier.people p WHERE p.name = p_person AND p.disabled_at IS NULL) THEN
        RAISE EXCEPTION USING ERRCODE = 'DS012',
            MESSAGE = format('no enabled Dossier user "%s"', left(coalesce(p_person, ''), 70));
    END IF;
    name := v_actor.name;
    login := v_actor.login;
END
$fn$;
ALTER FUNCTION dossier.require_self_or_admin(text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.require_self_or_admin(text) FROM PUBLIC;

-- Stores a new token's hash for the person asking; records `token-issued` in the access stream.
-- Only for oneself: whoever holds a token's text acts as its person, so an admin who could issue
-- one for someone else could act as them. (Admins may list and revoke anyone's.)
CREATE FUNCTION dossier.issue_token(p_person text, p_hash bytea, p_authority text, p_reference text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
    v_token uuid := gen_random_uuid();
BEGIN
    SELECT * INTO v_actor FROM dossier.require_self_or_admin(p_person);
    IF v_actor.name IS DISTINCT FROM p_person THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010',
            MESSAGE = format('"%s" may issue tokens only for themselves: %s asks for their own (an admin may revoke anyone''s)', v_actor.name, left(coalesce(p_person, ''), 70));
    END IF;
    IF p_hash IS NULL OR length(p_hash) <> 32 THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'a token is stored as its 32-byte SHA-256';
    END IF;
    PERFORM dossier.append_access('token-issued', jsonb_build_object('person', p_person, 'token', v_token),
                                  p_authority, p_reference, v_actor.name, v_actor.login);
    INSERT INTO dossier.api_tokens (token_id, person, token_hash, issued_at, issued_by)
    VALUES (v_token, p_person, p_hash, clock_timestamp(), v_actor.name);
    RETURN v_token;
END
$fn$;
ALTER FUNCTION dossier.issue_token(text, bytea, text, text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.issue_token(text, bytea, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.issue_token(text, bytea, text, text) TO dossier_writer, dossier_reader, dossier_reviewer, dossier_admin;

-- Ends every token of a person; records `tokens-revoked` (with how many) in the access stream.
CREATE FUNCTION dossier.revoke_tokens(p_person text, p_authority text, p_reference text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
    v_count integer;
BEGIN
    SELECT * INTO v_actor FROM dossier.require_self_or_admin(p_person);
    SELECT count(*) INTO v_count FROM dossier.api_tokens WHERE person = p_person AND revoked_at IS NULL;
    PERFORM dossier.append_access('tokens-revoked', jsonb_build_object('person', p_person, 'revoked', v_count),
                                  p_authority, p_reference, v_actor.name, v_actor.login);
    UPDATE dossier.api_tokens SET revoked_at = clock_timestamp(), revoked_by = v_actor.name
     WHERE person = p_person AND revoked_at IS NULL;
    RETURN v_count;
END
$fn$;
ALTER FUNCTION dossier.revoke_tokens(text, text, text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.revoke_tokens(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.revoke_tokens(text, text, text) TO dossier_writer, dossier_reader, dossier_reviewer, dossier_admin;

-- The person a token belongs to, when it is live and its person enabled (NULL otherwise). Only a
-- gateway login (the server) may ask: a token is a credential, and guessing one is 2^-256 per try.
CREATE FUNCTION dossier.token_person(p_hash bytea) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT t.person FROM dossier.api_tokens t JOIN dossier.people p ON p.name = t.person
     WHERE t.token_hash = p_hash AND t.revoked_at IS NULL AND p.disabled_at IS NULL
$fn$;
ALTER FUNCTION dossier.token_person(bytea) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.token_person(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.token_person(bytea) TO dossier_gateway;

-- The live tokens of a person (ids and dates, never hashes), for the person or an admin.
CREATE FUNCTION dossier.tokens_of(p_person text)
RETURNS TABLE (token_id uuid, issued_at timestamptz, issued_by text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM dossier.require_self_or_admin(p_person);
    RETURN QUERY SELECT t.token_id, t.issued_at, t.issued_by FROM dossier.api_tokens t
                  WHERE t.person = p_person AND t.revoked_at IS NULL ORDER BY t.issued_at;
END
$fn$;
ALTER FUNCTION dossier.tokens_of(text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.tokens_of(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.tokens_of(text) TO dossier_writer, dossier_reader, dossier_reviewer, dossier_admin;

SELECT dossier.sync_gateway();

-- Which migrations are applied is no secret: /readyz compares them with the program's.
GRANT SELECT ON public.dossier_migrations TO PUBLIC;

-- The person's own role and jurisdictions (what the web interface shows as "you are …").
CREATE FUNCTION dossier.my_scopes() RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT dossier.scopes_of((SELECT name FROM dossier.actor()))
$fn$;
ALTER FUNCTION dossier.my_scopes() OWNER TO dossier_owner;
GRANT EXECUTE ON FUNCTION dossier.my_scopes() TO PUBLIC;
GRANT SELECT ON dossier.event_types, dossier.event_fields TO PUBLIC;

-- show and trace join personal_data_of to the log by event id. Planned at PostgreSQL's default of
-- 1,000 rows for a set-returning function, that join hashed the whole events table: a read cost
-- grew with the ledger (9 ms at 8,000 events, 27 ms at 32,000; tools/bench). A worker has a
-- handful of personal-data rows; at 10 the join probes the event-id index instead (3.5 ms).
ALTER FUNCTION dossier.personal_data_of(text[]) ROWS 10;
