-- 0006: people as database roles, jurisdiction scopes enforced by the database, one way in for
-- each role, and personal data under control.
--
-- Before this migration the writer role held INSERT on the log and trusted a session setting to
-- tell append functions from direct inserts; it owned the auditors' views; it passed the name of
-- whoever recorded as a parameter. From here on:
--
--   * every table, sequence and view belongs to dossier_owner (NOLOGIN, nobody acts as it);
--   * the log, personal data and placements are written only by owner-defined SECURITY DEFINER
--     functions with a fixed search_path, which check what they store;
--   * the actor is read from the session (the login, or the person a trusted server SET ROLEs to)
--     and must be a registered, enabled person; an `hr` person appends only within the
--     jurisdictions it was granted;
--   * every change to people and scopes is an event in the `access` stream;
--   * reads of personal data go through a function that logs them.
--
-- Group roles (NOLOGIN, cluster-wide):
--   dossier_reader     auditors: read the log, projections, people, scopes and the access log;
--                      no personal data
--   dossier_reviewer   appeals reviewers: what auditors read, and personal data (logged)
--   dossier_writer     HR departments: append within their scopes, read personal data in scope
--   dossier_projector  keeps the read side: writes projection rows, rebuilds through owner functions
--   dossier_admin      manages people; appends anywhere; keeps the Merkle tree and checkpoints
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['dossier_reviewer', 'dossier_projector', 'dossier_admin'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$roles$;

-- Role memberships are cluster-wide: granted only when missing, so databases migrating side by
-- side do not update the same catalog rows at once.
DO $memberships$
DECLARE
    m text[];
BEGIN
    FOREACH m SLICE 1 IN ARRAY ARRAY[
        ARRAY['dossier_reader', 'dossier_reviewer'], ARRAY['dossier_reader', 'dossier_writer'],
        ARRAY['dossier_writer', 'dossier_admin'], ARRAY['dossier_reviewer', 'dossier_admin'],
        ARRAY['dossier_projector', 'dossier_admin']] LOOP
        IF NOT pg_has_role(m[2], m[1], 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', m[1], m[2]);
        END IF;
    END LOOP;
    -- The owner creates people's login roles (in the user functions below) and grants them a group.
    IF NOT (SELECT rolcreaterole FROM pg_roles WHERE rolname = 'dossier_owner') THEN
        ALTER ROLE dossier_owner CREATEROLE;
    END IF;
END
$memberships$;
DO $admin_option$
BEGIN
    -- PostgreSQL 16 and later want ADMIN OPTION to grant a group; 15 accepts CREATEROLE alone.
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE 'GRANT dossier_reader, dossier_reviewer, dossier_writer, dossier_admin TO dossier_owner WITH ADMIN OPTION';
    END IF;
END
$admin_option$;

-- What non-owners held before, taken back.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON dossier.events FROM dossier_writer;
REVOKE ALL ON SEQUENCE dossier.event_position FROM dossier_writer;
REVOKE ALL ON dossier.personal_data FROM dossier_writer, dossier_reader;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON dossier.placements FROM dossier_writer;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON dossier.merkle_leaves, dossier.merkle_nodes, dossier.checkpoints,
    dossier.signing_keys FROM dossier_writer;
GRANT INSERT ON dossier.merkle_leaves, dossier.merkle_nodes, dossier.checkpoints, dossier.signing_keys
    TO dossier_admin;
REVOKE CREATE ON SCHEMA dossier_read FROM dossier_writer;
-- Only registered people connect to this ledger (group roles are cluster-wide: without this, a
-- person of another ledger on the same cluster could read this one). The owner grants CONNECT
-- when it adds a person and takes it back when it disables one.
DO $connect$
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO dossier_owner WITH GRANT OPTION', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), session_user);
END
$connect$;
REVOKE CREATE ON SCHEMA dossier FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE dossier_writer IN SCHEMA dossier_read REVOKE SELECT ON TABLES FROM dossier_reader;
DROP FUNCTION dossier.append_to_stream(text, integer, uuid[], text[], smallint[], jsonb[], date[], text, text[], text[]);
DROP FUNCTION dossier.append_batch(text);
GRANT USAGE ON SCHEMA dossier TO dossier_projector, dossier_reviewer, dossier_admin;

-- Who wrote a row, as the database saw it: the person (recorded_by) and, when a trusted server
-- acted for them, the login it used; and an optional note of whom a clerk recorded for.
ALTER TABLE dossier.events ADD COLUMN recorded_login text;
ALTER TABLE dossier.events ADD COLUMN on_behalf_of text;
COMMENT ON COLUMN dossier.events.recorded_by IS
    'The person who appended the event, from the session (never from the client). Covered by the Merkle tree.';
COMMENT ON COLUMN dossier.events.recorded_login IS
    'The database login of the session, when it differs from recorded_by (a server acting for the person).';
COMMENT ON COLUMN dossier.events.on_behalf_of IS
    'A note the recorder gave (dossier record --on-behalf-of): whom they recorded for. Not an identity.';

-- Direct inserts are refused for everyone but the owner, which only the append functions act as.
CREATE OR REPLACE FUNCTION dossier.require_append_function() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_user <> 'dossier_owner' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'DS001',
            MESSAGE = format('INSERT on %s is refused: append through dossier.append_to_stream or dossier.append_batch',
                             TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER personal_data_require_append_function BEFORE INSERT ON dossier.personal_data
    FOR EACH STATEMENT EXECUTE FUNCTION dossier.require_append_function();
CREATE TRIGGER placements_require_append_function BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON dossier.placements
    FOR EACH STATEMENT EXECUTE FUNCTION dossier.require_append_function();

-- Global locks of the append path are row locks on this table, which only the owner may lock
-- (row locks need UPDATE privilege): a reader cannot take them first and stall every append, as
-- it could the old advisory keys 1148 and 1149.
CREATE TABLE dossier.append_locks (name text PRIMARY KEY);
ALTER TABLE dossier.append_locks OWNER TO dossier_owner;
INSERT INTO dossier.append_locks VALUES ('barrier'), ('position');

-- The same for the locks of one stream ('stream:<name>', replacing advisory key 1147) and of one
-- jurisdiction's quota ('quota:<jurisdiction>', replacing 1150): a row per key, made on first use.
CREATE TABLE dossier.lock_rows (key text PRIMARY KEY);
ALTER TABLE dossier.lock_rows OWNER TO dossier_owner;

-- Locks a key's row until the end of the transaction (creating it the first time; a concurrent
-- creator waits on the unique index, then locks the row the other made).
CREATE FUNCTION dossier.lock_key(p_key text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM 1 FROM dossier.lock_rows WHERE key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO dossier.lock_rows (key) VALUES (p_key) ON CONFLICT DO NOTHING;
        PERFORM 1 FROM dossier.lock_rows WHERE key = p_key FOR UPDATE;
    END IF;
END
$fn$;
ALTER FUNCTION dossier.lock_key(text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.lock_key(text) FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- People and scopes: a projection of the `access` stream, written in the same transaction.
CREATE TABLE dossier.people (
    name        text        PRIMARY KEY,
    role        text        NOT NULL CHECK (role IN ('hr', 'reviewer', 'auditor', 'admin')),
    added_at    timestamptz NOT NULL,
    added_by    text        NOT NULL,
    disabled_at timestamptz,
    disabled_by text
);
ALTER TABLE dossier.people OWNER TO dossier_owner;
COMMENT ON TABLE dossier.people IS 'Registered people: each is a database login role with one Dossier role.';

CREATE TABLE dossier.scopes (
    person      text        NOT NULL REFERENCES dossier.people (name),
    jurisdiction text       NOT NULL,
    granted_at  timestamptz NOT NULL,
    granted_by  text        NOT NULL,
    granted_event uuid      NOT NULL,
    revoked_at  timestamptz,
    revoked_by  text,
    revoked_event uuid
);
ALTER TABLE dossier.scopes OWNER TO dossier_owner;
CREATE INDEX scopes_person ON dossier.scopes (person) WHERE revoked_at IS NULL;
COMMENT ON TABLE dossier.scopes IS
    'Jurisdictions each person may record for, from when and until when (revoked_at), and who said so.';

-- Every read of personal data through Dossier.
CREATE TABLE dossier.access_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    reader      text        NOT NULL,
    login       text        NOT NULL,
    worker      text        NOT NULL,
    what        text        NOT NULL,
    -- The top-level transaction that wrote the row (even inside a savepoint): a read is served
    -- only when this transaction has committed.
    txid        xid8        NOT NULL DEFAULT pg_current_xact_id()
);
ALTER TABLE dossier.access_log OWNER TO dossier_owner;
CREATE INDEX access_log_worker ON dossier.access_log (worker, at);
CREATE TRIGGER access_log_refuse_update_delete BEFORE UPDATE OR DELETE ON dossier.access_log
    FOR EACH ROW EXECUTE FUNCTION dossier.refuse_change();
CREATE TRIGGER access_log_refuse_truncate BEFORE TRUNCATE ON dossier.access_log
    FOR EACH STATEMENT EXECUTE FUNCTION dossier.refuse_change();
COMMENT ON TABLE dossier.access_log IS 'Who read whose personal data through Dossier, when, and how.';

GRANT SELECT ON dossier.people, dossier.scopes, dossier.access_log TO dossier_reader;

-- An import's recorded time, held by the owner (no session setting a caller could forge).
CREATE TABLE dossier.batch_clock (txid xid8 PRIMARY KEY, recorded_at timestamptz NOT NULL);
ALTER TABLE dossier.batch_clock OWNER TO dossier_owner;

-- Staging for bulk appends: rows COPYed by the importer, valid only in the transaction that wrote
-- them (the CHECK ties each row to it), consumed and deleted by dossier.append_batch.
CREATE UNLOGGED TABLE dossier.staged_events (
    txid            xid8        NOT NULL DEFAULT pg_current_xact_id() CHECK (txid = pg_current_xact_id()),
    chunk           integer     NOT NULL DEFAULT 0,
    ord             bigint      NOT NULL,
    stream          text        NOT NULL,
    version         integer     NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    schema_version  smallint    NOT NULL,
    payload         jsonb       NOT NULL,
    effective       date        NOT NULL,
    authority       text        NOT NULL,
    reference       text        NOT NULL,
    personal        jsonb,
    salt            bytea
);
ALTER TABLE dossier.staged_events OWNER TO dossier_owner;
-- By chunk: an import's earlier chunks, deleted but not yet vacuumable while it runs, are not
-- visited again by the next chunk's lookups.
CREATE INDEX staged_events_txid ON dossier.staged_events (txid, chunk, ord);
GRANT INSERT ON dossier.staged_events TO dossier_writer;

CREATE UNLOGGED TABLE dossier.staged_placements (
    txid        xid8    NOT NULL DEFAULT pg_current_xact_id() CHECK (txid = pg_current_xact_id()),
    worker      text    NOT NULL,
    span        integer NOT NULL,
    city        text    NOT NULL,
    district    text    NOT NULL,
    street      text    NOT NULL,
    community   text    NOT NULL,
    from_date   date    NOT NULL,
    until_date  date
);
ALTER TABLE dossier.staged_placements OWNER TO dossier_owner;
CREATE INDEX staged_placements_txid ON dossier.staged_placements (txid);
GRANT INSERT ON dossier.staged_placements TO dossier_writer;

-- ---------------------------------------------------------------------------------------------
-- What an event may hold: its stream kind and, per field, the JSON type, whether it is required,
-- and its allowed values. The append functions refuse anything else, so nobody can store what
-- Dossier cannot read.
CREATE TABLE dossier.event_types (
    event_type  text PRIMARY KEY,
    stream_kind text NOT NULL CHECK (stream_kind IN ('worker', 'cadre', 'jurisdiction', 'policy', 'access'))
);
ALTER TABLE dossier.event_types OWNER TO dossier_owner;
CREATE TABLE dossier.event_fields (
    event_type  text    NOT NULL REFERENCES dossier.event_types,
    field       text    NOT NULL,
    kind        text    NOT NULL CHECK (kind IN ('text', 'integer', 'date', 'uuid', 'object', 'array')),
    required    boolean NOT NULL,
    choices     text[],
    min_value   bigint,
    max_value   bigint,
    max_length  integer,
    PRIMARY KEY (event_type, field)
);
ALTER TABLE dossier.event_fields OWNER TO dossier_owner;
GRANT SELECT ON dossier.event_types, dossier.event_fields TO dossier_reader;

INSERT INTO dossier.event_types VALUES
    ('hire', 'worker'), ('level-change', 'worker'), ('post-change', 'worker'), ('transfer', 'worker'),
    ('assessment', 'worker'), ('qualification', 'worker'), ('training', 'worker'), ('secondment', 'worker'),
    ('secondment-end', 'worker'), ('temporary-post', 'cadre'), ('temporary-post-end', 'cadre'),
    ('misconduct', 'worker'), ('fault-tolerance', 'worker'), ('dismissal', 'worker'), ('resignation', 'worker'),
    ('retirement', 'worker'), ('civil-service', 'worker'), ('public-institution', 'worker'),
    ('street-leadership', 'worker'), ('appeal-ruling', 'worker'), ('correction', 'worker'),
    ('rescission', 'worker'), ('population', 'jurisdiction'), ('policy', 'policy'), ('erasure', 'worker'),
    ('person-added', 'access'), ('scope-granted', 'access'), ('scope-revoked', 'access'),
    ('person-disabled', 'access');

DO $fields$
DECLARE
    posts text[] := ARRAY['principal', 'deputy', 'staff'];
    roles text[] := ARRAY['party-secretary', 'committee-director', 'secretary-director', 'deputy-secretary',
                          'deputy-director', 'committee-member', 'staff', 'first-secretary'];
    t text;
BEGIN
    INSERT INTO dossier.event_fields (event_type, field, kind, required, choices, min_value, max_value, max_length) VALUES
        ('hire', 'community', 'text', true, NULL, NULL, NULL, 100),
        ('hire', 'street', 'text', true, NULL, NULL, NULL, 100),
        ('hire', 'district', 'text', true, NULL, NULL, NULL, 100),
        ('hire', 'city', 'text', true, NULL, NULL, NULL, 100),
        ('hire', 'post', 'text', true, posts, NULL, NULL, NULL),
        ('hire', 'role', 'text', true, roles, NULL, NULL, NULL),
        ('hire', 'level', 'integer', true, NULL, 1, 18, NULL),
        ('hire', 'education', 'text', true, ARRAY['secondary', 'associate', 'bachelor', 'master', 'doctorate'], NULL, NULL, NULL),
        ('level-change', 'level', 'integer', true, NULL, 1, 18, NULL),
        ('level-change', 'grounds', 'text', false,
            ARRAY['seniority', 'assessment', 'education', 'qualification', 'other'], NULL, NULL, NULL),
        ('post-change', 'post', 'text', true, posts, NULL, NULL, NULL),
        ('post-change', 'role', 'text', true, roles, NULL, NULL, NULL),
        ('transfer', 'community', 'text', true, NULL, NULL, NULL, 100),
        ('transfer', 'street', 'text', true, NULL, NULL, NULL, 100),
        ('transfer', 'district', 'text', true, NULL, NULL, NULL, 100),
        ('transfer', 'city', 'text', false, NULL, NULL, NULL, 100),
        ('assessment', 'year', 'integer', true, NULL, 1950, 2199, NULL),
        ('assessment', 'grade', 'text', true,
            ARRAY['excellent', 'competent', 'basically-competent', 'incompetent'], NULL, NULL, NULL),
        ('qualification', 'certificate', 'text', true,
            ARRAY['assistant-social-worker', 'social-worker', 'senior-social-worker'], NULL, NULL, NULL),
        ('training', 'kind', 'text', true, ARRAY['initial', 'on-the-job', 'special', 'practical'], NULL, NULL, NULL),
        ('training', 'hours', 'integer', true, NULL, 1, 2000, NULL),
        ('secondment', 'to', 'text', true, NULL, NULL, NULL, 200),
        ('secondment', 'toLevel', 'text', true,
            ARRAY['street', 'township', 'county', 'city', 'province', 'central'], NULL, NULL, NULL),
        ('secondment', 'until', 'date', true, NULL, NULL, NULL, NULL),
        ('secondment', 'approval', 'text', false, NULL, NULL, NULL, 200),
        ('temporary-post', 'homeAgency', 'text', true, NULL, NULL, NULL, 200),
        ('temporary-post', 'community', 'text', true, NULL, NULL, NULL, 100),
        ('temporary-post', 'role', 'text', true, roles, NULL, NULL, NULL),
        ('temporary-post', 'until', 'date', true, NULL, NULL, NULL, NULL),
        ('temporary-post', 'kind', 'text', true, ARRAY['cadre', 'new-civil-servant'], NULL, NULL, NULL),
        ('misconduct', 'description', 'text', true, NULL, NULL, NULL, 2000),
        ('misconduct', 'sanction', 'text', true, ARRAY['none', 'warning', 'demerit', 'major-demerit'], NULL, NULL, NULL),
        ('fault-tolerance', 'misconduct', 'uuid', true, NULL, NULL, NULL, NULL),
        ('fault-tolerance', 'ruling', 'text', true, ARRAY['excused', 'mitigated', 'not-excused'], NULL, NULL, NULL),
        ('fault-tolerance', 'sanction', 'text', false, ARRAY['none', 'warning', 'demerit', 'major-demerit'], NULL, NULL, NULL),
        ('dismissal', 'grounds', 'text', true, NULL, NULL, NULL, 2000),
        ('appeal-ruling', 'appealed', 'uuid', true, NULL, NULL, NULL, NULL),
        ('appeal-ruling', 'outcome', 'text', true, ARRAY['upheld', 'overturned'], NULL, NULL, NULL),
        ('rescission', 'rescinds', 'uuid', true, NULL, NULL, NULL, NULL),
        ('rescission', 'grounds', 'text', true, NULL, NULL, NULL, 2000),
        ('correction', 'corrects', 'uuid', true, NULL, NULL, NULL, NULL),
        ('correction', 'correctedEffective', 'date', false, NULL, NULL, NULL, NULL),
        ('population', 'year', 'integer', true, NULL, 1950, 2199, NULL),
        ('population', 'urbanPopulation', 'integer', true, NULL, 1, 100000000, NULL),
        ('policy', 'jurisdiction', 'text', true, NULL, NULL, NULL, 201),
        ('policy', 'parameters', 'object', true, NULL, NULL, NULL, NULL),
        ('erasure', 'erased', 'integer', true, NULL, 0, 1000000, NULL),
        ('person-added', 'person', 'text', true, NULL, NULL, NULL, 63),
        ('person-added', 'role', 'text', true, ARRAY['hr', 'reviewer', 'auditor', 'admin'], NULL, NULL, NULL),
        ('person-added', 'jurisdictions', 'array', true, NULL, NULL, NULL, NULL),
        ('scope-granted', 'person', 'text', true, NULL, NULL, NULL, 63),
        ('scope-granted', 'jurisdiction', 'text', true, NULL, NULL, NULL, 201),
        ('scope-revoked', 'person', 'text', true, NULL, NULL, NULL, 63),
        ('scope-revoked', 'jurisdiction', 'text', true, NULL, NULL, NULL, 201),
        ('person-disabled', 'person', 'text', true, NULL, NULL, NULL, 63);
    -- A correction may carry any field of a worker decision (checked against its target by Dossier).
    INSERT INTO dossier.event_fields (event_type, field, kind, required, max_length)
    SELECT DISTINCT ON (f.field) 'correction', f.field, f.kind, false, f.max_length
      FROM dossier.event_fields f JOIN dossier.event_types t USING (event_type)
     WHERE t.stream_kind IN ('worker', 'cadre') AND f.event_type NOT IN ('correction', 'erasure')
       AND f.field NOT IN ('corrects', 'correctedEffective', 'misconduct', 'appealed', 'rescinds')
     ORDER BY f.field, f.kind;
    -- Personal data a correction may carry goes to personal_data; its seal is the `personal` field.
    -- Fields every decision may carry.
    FOR t IN SELECT event_type FROM dossier.event_types WHERE stream_kind <> 'access' AND event_type <> 'erasure' LOOP
        INSERT INTO dossier.event_fields (event_type, field, kind, required, max_length) VALUES
            (t, 'override', 'text', false, 2000), (t, 'exceptions', 'array', false, NULL),
            (t, 'personal', 'text', false, 200)
        ON CONFLICT DO NOTHING;
    END LOOP;
END
$fields$;

-- Whether a text is a real date written YYYY-MM-DD.
CREATE FUNCTION dossier.is_date(p text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF p !~ '^(19|20|21)\d{2}-\d{2}-\d{2}$' THEN RETURN false; END IF;
    RETURN to_char(p::date, 'YYYY-MM-DD') = p;
EXCEPTION WHEN others THEN
    RETURN false;
END
$fn$;
ALTER FUNCTION dossier.is_date(text) OWNER TO dossier_owner;

-- The first problem with a set of events to append, or NULL: each row is checked for a known
-- type, a stream of the type's kind, a sane date, non-blank bounded authority and reference, and
-- a payload of exactly the type's fields with values of their kind.
CREATE FUNCTION dossier.event_problem(
    p_streams text[], p_types text[], p_payloads jsonb[], p_effective date[], p_authorities text[],
    p_references text[], p_schema_versions smallint[], p_internal boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $fn$
-- PL/pgSQL with one generic plan: prepared once per session, not planned at every call (a
-- single decision spent 3 ms planning this query as an SQL function).
DECLARE
    v_problem text;
BEGIN

    WITH e AS (
        SELECT * FROM unnest(p_streams, p_types, p_payloads, p_effective, p_authorities, p_references, p_schema_versions)
            WITH ORDINALITY AS e(stream, event_type, payload, effective, authority, reference, schema_version, ord)
    ),
    problems AS (
        SELECT e.ord, format('event %s: schema version %s of %s is not one this dossier writes', e.ord,
                             e.schema_version, e.event_type) AS problem
          FROM e WHERE e.schema_version IS NULL OR e.schema_version < 1
                    OR e.schema_version > CASE WHEN e.event_type = 'level-change' THEN 2 ELSE 1 END
        UNION ALL
        SELECT e.ord, format('event %s: %s events are recorded only by the dossier user and erase functions', e.ord,
                             e.event_type)
          FROM e JOIN dossier.event_types t USING (event_type)
         WHERE NOT p_internal AND (t.stream_kind = 'access' OR t.event_type = 'erasure')
        UNION ALL
        SELECT e.ord, format('event %s: the event type "%s" is unknown', e.ord, left(e.event_type, 40))
          FROM e LEFT JOIN dossier.event_types t USING (event_type) WHERE t.event_type IS NULL
        UNION ALL
        SELECT e.ord, format('event %s: the stream "%s" is not a %s stream (written %s/ID)', e.ord,
                             left(e.stream, 80), t.stream_kind, t.stream_kind)
          FROM e JOIN dossier.event_types t USING (event_type)
         WHERE CASE t.stream_kind
                   WHEN 'worker' THEN e.stream !~ '^worker/[^/[:space:][:cntrl:]   -     　﻿]{1,64}$'
                   WHEN 'cadre' THEN e.stream !~ '^cadre/[^/[:space:][:cntrl:]   -     　﻿]{1,64}$'
                   WHEN 'jurisdiction' THEN e.stream !~ '^jurisdiction/[^/[:space:][:cntrl:]   -     　﻿]{1,100}(/[^/[:space:][:cntrl:]   -     　﻿]{1,100})?$'
                   WHEN 'policy' THEN e.stream <> 'policy'
                   ELSE e.stream <> 'access' END
        UNION ALL
        SELECT e.ord, format('event %s: the effective date %s is outside 1900-01-01 .. 2199-12-31', e.ord, e.effective)
          FROM e WHERE e.effective IS NULL OR e.effective < '1900-01-01' OR e.effective > '2199-12-31'
        UNION ALL
        SELECT e.ord, format('event %s: authority and reference must be 1 to 200 and 1 to 100 characters', e.ord)
          FROM e WHERE coalesce(length(btrim(e.authority)), 0) NOT BETWEEN 1 AND 200
                    OR coalesce(length(btrim(e.reference)), 0) NOT BETWEEN 1 AND 100
        UNION ALL
        SELECT e.ord, format('event %s: the payload must be a JSON object', e.ord)
          FROM e WHERE e.payload IS NULL OR jsonb_typeof(e.payload) <> 'object'
        UNION ALL
        SELECT e.ord, format('event %s: %s has no field "%s"', e.ord, e.event_type, left(kv.key, 40))
          FROM e JOIN dossier.event_types t USING (event_type)
          CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(e.payload) = 'object' THEN e.payload ELSE '{}' END) kv
          LEFT JOIN dossier.event_fields f ON f.event_type = e.event_type AND f.field = kv.key
         WHERE f.field IS NULL
        UNION ALL
        SELECT e.ord, format('event %s: %s needs the field "%s"', e.ord, e.event_type, f.field)
          FROM e JOIN dossier.event_fields f ON f.event_type = e.event_type AND f.required
         WHERE jsonb_typeof(e.payload) = 'object' AND NOT e.payload ? f.field
        UNION ALL
        SELECT e.ord, format('event %s: the field "%s" of %s is not a valid %s%s', e.ord, f.field, e.event_type, f.kind,
                             CASE WHEN f.choices IS NOT NULL THEN ' (one of ' || array_to_string(f.choices, ', ') || ')'
                                  WHEN f.min_value IS NOT NULL THEN format(' (%s to %s)', f.min_value, f.max_value)
                                  ELSE '' END)
          FROM e JOIN dossier.event_fields f ON f.event_type = e.event_type
          JOIN LATERAL (SELECT e.payload -> f.field AS v) x ON jsonb_typeof(e.payload) = 'object' AND x.v IS NOT NULL
         WHERE NOT CASE f.kind
                   WHEN 'text' THEN jsonb_typeof(x.v) = 'string'
                        AND length(x.v #>> '{}') BETWEEN 1 AND coalesce(f.max_length, 2000)
                        AND (f.choices IS NULL OR (x.v #>> '{}') = ANY (f.choices))
                   WHEN 'integer' THEN CASE WHEN jsonb_typeof(x.v) = 'number' AND (x.v #>> '{}') ~ '^-?\d{1,15}$'
                        THEN (x.v #>> '{}')::bigint BETWEEN coalesce(f.min_value, -999999999999999)
                                                      AND coalesce(f.max_value, 999999999999999)
                        ELSE false END
                   WHEN 'date' THEN jsonb_typeof(x.v) = 'string' AND dossier.is_date(x.v #>> '{}')
                   WHEN 'uuid' THEN jsonb_typeof(x.v) = 'string'
                        AND (x.v #>> '{}') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                   WHEN 'object' THEN jsonb_typeof(x.v) = 'object'
                   ELSE jsonb_typeof(x.v) = 'array' END
        UNION ALL
        -- What the decoder checks beyond single fields: an assessment's year, an end after the start,
        -- a new sanction only with a mitigated ruling, a correction that corrects something, places
        -- without slashes, a policy's jurisdiction and parameters.
        SELECT e.ord, format('event %s: an assessment of %s cannot take effect on %s, before that year', e.ord,
                             e.payload ->> 'year', e.effective)
          FROM e WHERE e.event_type = 'assessment' AND (e.payload ->> 'year') ~ '^\d{4}$'
                   AND (e.payload ->> 'year')::int > extract(year FROM e.effective)
        UNION ALL
        SELECT e.ord, format('event %s: until must be after the effective date %s', e.ord, e.effective)
          FROM e WHERE e.event_type IN ('secondment', 'temporary-post') AND dossier.is_date(e.payload ->> 'until')
                   AND (e.payload ->> 'until')::date <= e.effective
        UNION ALL
        SELECT e.ord, format('event %s: only a mitigated ruling sets a new sanction', e.ord)
          FROM e WHERE e.event_type = 'fault-tolerance' AND e.payload ? 'sanction'
                   AND e.payload ->> 'ruling' IS DISTINCT FROM 'mitigated'
        UNION ALL
        SELECT e.ord, format('event %s: a correction must give at least one corrected field or correctedEffective', e.ord)
          FROM e WHERE e.event_type = 'correction' AND jsonb_typeof(e.payload) = 'object'
                   AND NOT EXISTS (SELECT FROM jsonb_object_keys(e.payload) k
                                    WHERE k NOT IN ('corrects', 'override', 'exceptions'))
        UNION ALL
        SELECT e.ord, format('event %s: %s must not contain a slash', e.ord, k.key)
          FROM e CROSS JOIN (VALUES ('city'), ('district')) k(key)
         WHERE jsonb_typeof(e.payload) = 'object' AND position('/' IN coalesce(e.payload ->> k.key, '')) > 0
        UNION ALL
        SELECT e.ord, format('event %s: the policy jurisdiction must be "*", a city or "City/District"', e.ord)
          FROM e WHERE e.event_type = 'policy' AND jsonb_typeof(e.payload) = 'object'
                   AND coalesce(e.payload ->> 'jurisdiction', '') <> '*'
                   AND coalesce(e.payload ->> 'jurisdiction', '') !~ '^[^/[:space:][:cntrl:]   -     　﻿]{1,100}(/[^/[:space:][:cntrl:]   -     　﻿]{1,100})?$'
        UNION ALL
        SELECT e.ord, format('event %s: a level change (schema version 2) needs its grounds', e.ord)
          FROM e WHERE e.event_type = 'level-change' AND e.schema_version = 2 AND jsonb_typeof(e.payload) = 'object'
                   AND NOT e.payload ? 'grounds'
        UNION ALL
        SELECT e.ord, format('event %s: exceptions must be an array of at most 50 rule names', e.ord)
          FROM e WHERE jsonb_typeof(e.payload -> 'exceptions') = 'array'
                   AND (jsonb_array_length(e.payload -> 'exceptions') > 50
                        OR EXISTS (SELECT FROM jsonb_array_elements(e.payload -> 'exceptions') x
                                    WHERE jsonb_typeof(x) <> 'string' OR (x #>> '{}') !~ '^[a-z][a-z0-9-]{0,60}$'))
        UNION ALL
        SELECT e.ord, format('event %s: a policy must set at least one parameter', e.ord)
          FROM e WHERE e.event_type = 'policy' AND e.payload -> 'parameters' = '{}'::jsonb
        UNION ALL
        SELECT e.ord, format('event %s: policy parameter "%s" is unknown or not of its kind', e.ord, left(kv.key, 40))
          FROM e CROSS JOIN LATERAL jsonb_each(CASE WHEN e.event_type = 'policy' AND jsonb_typeof(e.payload -> 'parameters') = 'object'
                                                    THEN e.payload -> 'parameters' ELSE '{}' END) kv
         WHERE NOT CASE
                   WHEN kv.key IN ('quotaPerTenThousand', 'maxLevel', 'levelUpConsecutiveExcellent', 'levelUpMinServiceYears',
                                   'publicInstitutionServiceYears', 'secretaryTermYears', 'levelDownLookbackYears',
                                   'exitReviewLookbackYears')
                        THEN jsonb_typeof(kv.value) = 'number' AND CASE WHEN (kv.value #>> '{}') ~ '^\d{1,4}$' THEN
                             (kv.value #>> '{}')::int BETWEEN
                                 CASE kv.key WHEN 'quotaPerTenThousand' THEN 1 WHEN 'maxLevel' THEN 1
                                             WHEN 'levelUpConsecutiveExcellent' THEN 1 WHEN 'secretaryTermYears' THEN 1 ELSE 0 END
                             AND CASE kv.key WHEN 'quotaPerTenThousand' THEN 1000 WHEN 'maxLevel' THEN 18
                                             WHEN 'levelUpConsecutiveExcellent' THEN 10 WHEN 'secretaryTermYears' THEN 20 ELSE 50 END
                             ELSE false END
                   WHEN kv.key = 'postRoles' THEN
                        jsonb_typeof(kv.value) = 'object' AND kv.value <> '{}'::jsonb
                        AND NOT EXISTS (
                            SELECT FROM jsonb_each(CASE WHEN jsonb_typeof(kv.value) = 'object' THEN kv.value ELSE '{}' END) pr
                             WHERE pr.key NOT IN ('principal', 'deputy', 'staff') OR jsonb_typeof(pr.value) <> 'array'
                                OR pr.value = '[]'::jsonb
                                OR EXISTS (SELECT FROM jsonb_array_elements(CASE WHEN jsonb_typeof(pr.value) = 'array'
                                                                                 THEN pr.value ELSE '[]' END) r
                                            WHERE jsonb_typeof(r) <> 'string'
                                               OR (r #>> '{}') NOT IN ('party-secretary', 'committee-director',
                                                   'secretary-director', 'deputy-secretary', 'deputy-director',
                                                   'committee-member', 'staff', 'first-secretary')))
                   WHEN kv.key = 'certificateSubsidy' THEN
                        jsonb_typeof(kv.value) = 'object' AND kv.value <> '{}'::jsonb
                        AND NOT EXISTS (
                            SELECT FROM jsonb_each(CASE WHEN jsonb_typeof(kv.value) = 'object' THEN kv.value ELSE '{}' END) cs
                             WHERE cs.key NOT IN ('assistant-social-worker', 'social-worker', 'senior-social-worker')
                                OR jsonb_typeof(cs.value) <> 'number' OR (cs.value #>> '{}') !~ '^\d{1,6}$'
                                OR (CASE WHEN (cs.value #>> '{}') ~ '^\d{1,6}$' THEN (cs.value #>> '{}')::int ELSE 0 END) > 100000)
                   WHEN kv.key = 'secondmentForbiddenFrom' THEN
                        jsonb_typeof(kv.value) = 'string'
                        AND (kv.value #>> '{}') IN ('street', 'township', 'county', 'city', 'province', 'central')
                   WHEN kv.key = 'secondmentApprovalRequired' THEN
                        jsonb_typeof(kv.value) = 'array'
                        AND NOT EXISTS (SELECT FROM jsonb_array_elements(CASE WHEN jsonb_typeof(kv.value) = 'array'
                                                                              THEN kv.value ELSE '[]' END) l
                                         WHERE jsonb_typeof(l) <> 'string'
                                            OR (l #>> '{}') NOT IN ('street', 'township', 'county', 'city', 'province', 'central'))
                   ELSE false END
    )
    SELECT problem INTO v_problem FROM problems ORDER BY ord LIMIT 1;
    RETURN v_problem;
END
$fn$;
ALTER FUNCTION dossier.event_problem(text[], text[], jsonb[], date[], text[], text[], smallint[], boolean)
    OWNER TO dossier_owner;

-- Takes n consecutive global positions under the position lock, held until commit (so positions
-- become visible in the order they were taken). Returns the first.
CREATE FUNCTION dossier.take_positions(n bigint) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_base bigint;
BEGIN
    PERFORM 1 FROM dossier.append_locks WHERE name = 'position' FOR UPDATE;
    v_base := nextval('dossier.event_position');
    IF n > 1 THEN
        PERFORM setval('dossier.event_position', v_base + n - 1);
    END IF;
    RETURN v_base;
END
$fn$;
ALTER FUNCTION dossier.take_positions(bigint) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.take_positions(bigint) FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- The actor: the person the session acts as. PostgreSQL lets a session set `role` only to a role
-- its login is a member of, so current_setting('role') names the person a trusted server acts for;
-- 'none' means the login itself. Group roles are not people and are refused.
CREATE FUNCTION dossier.actor(OUT name text, OUT role text, OUT login text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_setting text := current_setting('role');
    v_person record;
BEGIN
    name := CASE WHEN v_setting IS NULL OR v_setting = 'none' THEN session_user::text ELSE v_setting END;
    login := session_user::text;
    SELECT p.role, p.disabled_at INTO v_person FROM dossier.people p WHERE p.name = actor.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010',
            MESSAGE = format('"%s" is not a Dossier user of this ledger', name),
            HINT = 'An administrator adds people with: dossier user add NAME --role hr|reviewer|auditor|admin';
    END IF;
    IF v_person.disabled_at IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010',
            MESSAGE = format('the Dossier user "%s" was disabled on %s', name, v_person.disabled_at);
    END IF;
    role := v_person.role;
END
$fn$;
ALTER FUNCTION dossier.actor() OWNER TO dossier_owner;
GRANT EXECUTE ON FUNCTION dossier.actor() TO PUBLIC;

-- The jurisdictions a person may record for, now.
CREATE FUNCTION dossier.scopes_of(p_person text) RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce(array_agg(DISTINCT s.jurisdiction ORDER BY s.jurisdiction), '{}')
      FROM dossier.scopes s WHERE s.person = p_person AND s.revoked_at IS NULL
$fn$;
ALTER FUNCTION dossier.scopes_of(text) OWNER TO dossier_owner;

-- Whether scopes cover a place (a city scope covers its districts).
CREATE FUNCTION dossier.covers(p_scopes text[], p_city text, p_district text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT p_city IS NOT NULL AND (p_city = ANY (p_scopes)
        OR (p_district IS NOT NULL AND p_city || '/' || p_district = ANY (p_scopes)))
$fn$;
ALTER FUNCTION dossier.covers(text[], text, text) OWNER TO dossier_owner;

-- Every move of a worker (hire or transfer) in force according to the log itself, not to any
-- projection, in date order: corrections of its place or date applied field by field in the order
-- they were recorded; moves and corrections voided by a rescission, or by an overturning appeal
-- ruling that is not itself rescinded, left out (as Dossier's replay does). Events at or after
-- p_before (a position) are ignored. A transfer that names no city stays in the city before it.
CREATE FUNCTION dossier.moves_of(p_stream text, p_before bigint DEFAULT NULL)
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

-- Where a worker served on a date (the move in force then); with p_earliest, on the first date on
-- record when the date is before it.
CREATE FUNCTION dossier.placement_on(p_stream text, p_date date, p_before bigint DEFAULT NULL,
                                     p_earliest boolean DEFAULT false, OUT city text, OUT district text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT x.city, x.district FROM (
        (SELECT m.city, m.district, 0 AS rank FROM dossier.moves_of(p_stream, p_before) m
          WHERE m.effective <= p_date ORDER BY m.effective DESC, m.pos DESC LIMIT 1)
        UNION ALL
        (SELECT m.city, m.district, 1 FROM dossier.moves_of(p_stream, p_before) m
          WHERE p_earliest ORDER BY m.effective, m.pos LIMIT 1)) x
     ORDER BY x.rank LIMIT 1
$fn$;
ALTER FUNCTION dossier.placement_on(text, date, bigint, boolean) OWNER TO dossier_owner;

-- The structural rules of decisions that point at another (Dossier's Evaluator refuses the
-- same, and no override bends them): the target is an earlier event of the same record; a
-- fault-tolerance ruling rules on a misconduct; an appeal ruling or a correction points at a
-- decision that is not itself a correction, rescission or appeal ruling, and is not void; a
-- correction carries only fields of its target's kind; a rescission does not rescind a
-- rescission, nor a void decision. The first problem among the events at p_positions, or NULL.
CREATE FUNCTION dossier.structural_problem(p_first bigint, p_last bigint) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    e record;
    t record;
    v_target text;
    v_void boolean;
    v_field text;
BEGIN
    FOR e IN SELECT ev.position, ev.stream, ev.event_type, ev.payload
               FROM dossier.events ev
              WHERE ev.position BETWEEN p_first AND p_last
                AND ev.event_type IN ('correction', 'rescission', 'appeal-ruling', 'fault-tolerance')
              ORDER BY ev.position LOOP
        v_target := coalesce(e.payload ->> 'corrects', e.payload ->> 'rescinds', e.payload ->> 'appealed',
                             e.payload ->> 'misconduct');
        -- By event id (its unique index), then checked to be an earlier event of the same record.
        SELECT x.event_id, x.event_type, x.stream, x.position INTO t FROM dossier.events x
         WHERE x.event_id = v_target::uuid;
        IF NOT FOUND OR t.stream <> e.stream OR t.position >= e.position THEN
            RETURN format('%s at position %s: event %s is not an earlier decision of %s', e.event_type, e.position,
                          v_target, e.stream);
        END IF;
        -- The record's rescissions and rulings, read through its own index.
        WITH s AS MATERIALIZED (
            SELECT r.event_id::text AS id, r.event_type, r.payload, r.position FROM dossier.events r
             WHERE r.stream = e.stream AND r.event_type IN ('rescission', 'appeal-ruling'))
        SELECT EXISTS (SELECT FROM s r
                        WHERE r.position < e.position
                          AND ((r.event_type = 'rescission' AND r.payload ->> 'rescinds' = v_target)
                            OR (r.event_type = 'appeal-ruling' AND r.payload ->> 'appealed' = v_target
                                AND r.payload ->> 'outcome' = 'overturned'
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
        ELSIF e.event_type IN ('correction', 'rescission', 'appeal-ruling') AND v_void THEN
            RETURN format('%s at position %s points at event %s, which is already rescinded or overturned',
                          e.event_type, e.position, v_target);
        END IF;
        IF e.event_type = 'correction' THEN
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

-- The effective date of an event of a record now (its latest correctedEffective that is in
-- force), ignoring events at or after p_before.
CREATE FUNCTION dossier.effective_of(p_stream text, p_event text, p_before bigint) RETURNS date
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce(
        (SELECT (c.payload ->> 'correctedEffective')::date FROM dossier.events c
          WHERE c.stream = p_stream AND c.event_type = 'correction' AND c.payload ->> 'corrects' = p_event
            AND c.payload ? 'correctedEffective' AND c.position < p_before
            AND NOT EXISTS (SELECT FROM dossier.events r
                             WHERE r.stream = p_stream AND r.event_type = 'rescission' AND r.position < p_before
                               AND r.payload ->> 'rescinds' = c.event_id::text)
          ORDER BY c.position DESC LIMIT 1),
        (SELECT t.effective FROM dossier.events t WHERE t.stream = p_stream AND t.event_id::text = p_event))
$fn$;
ALTER FUNCTION dossier.effective_of(text, text, bigint) OWNER TO dossier_owner;

-- Refuses, for an `hr` actor, the events at p_positions that lie outside its scopes:
--   a hire of a new worker: the place it hires into;
--   a transfer: where the worker was that day without it, and where it goes;
--   a decision that can move a worker in time or place (a hire of a worker on record; a
--     correction, rescission or appeal ruling of a move or of such a decision): every place the
--     worker has on record, with the event and without it;
--   any other worker decision: where the worker served on its effective date (or, before the
--     first hire, where it was first placed);
--   a temporary post: where the community lies (as placements know it);
--   population and policy: their jurisdiction.
CREATE FUNCTION dossier.check_scope(p_actor text, p_role text, p_positions bigint[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_scopes text[];
    e record;
    v_place record;
    v_target text;
    v_places text;
    v_ok boolean;
BEGIN
    IF p_role = 'admin' THEN RETURN; END IF;
    IF p_role IS DISTINCT FROM 'hr' THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010',
            MESSAGE = format('"%s" is %s and may not record decisions', p_actor,
                             CASE p_role WHEN 'auditor' THEN 'an auditor' ELSE 'a ' || p_role END);
    END IF;
    v_scopes := dossier.scopes_of(p_actor);
    FOR e IN SELECT ev.position, ev.stream, ev.event_type, ev.payload, ev.effective, ev.reference
               FROM dossier.events ev WHERE ev.position = ANY (p_positions) ORDER BY ev.position LOOP
        v_ok := false;
        v_places := NULL;
        IF e.stream LIKE 'worker/%' THEN
            v_target := NULL;
            IF e.event_type IN ('correction', 'rescission', 'appeal-ruling') THEN
                SELECT t.event_type INTO v_target FROM dossier.events t
                 WHERE t.stream = e.stream AND t.position < e.position
                   AND t.event_id::text = coalesce(e.payload ->> 'corrects', e.payload ->> 'rescinds', e.payload ->> 'appealed');
            END IF;
            IF e.event_type = 'hire'
                AND NOT EXISTS (SELECT FROM dossier.events b WHERE b.stream = e.stream AND b.position < e.position) THEN
                v_places := concat_ws('/', e.payload ->> 'city', e.payload ->> 'district');
                v_ok := dossier.covers(v_scopes, e.payload ->> 'city', e.payload ->> 'district');
            ELSIF e.event_type = 'transfer' THEN
                SELECT string_agg(DISTINCT concat_ws('/', p.city, p.district), ' -> '),
                       coalesce(bool_and(dossier.covers(v_scopes, p.city, p.district)), false)
                  INTO v_places, v_ok
                  FROM (SELECT * FROM dossier.placement_on(e.stream, e.effective, e.position, true)
                        UNION ALL
                        SELECT * FROM dossier.placement_on(e.stream, e.effective, e.position + 1, true)) p;
            ELSIF e.event_type = 'hire' OR v_target IN ('hire', 'transfer', 'correction', 'rescission', 'appeal-ruling') THEN
                SELECT string_agg(DISTINCT concat_ws('/', p.city, p.district), ', '),
                       coalesce(bool_and(dossier.covers(v_scopes, p.city, p.district)), false)
                  INTO v_places, v_ok
                  FROM (SELECT m.city, m.district FROM dossier.moves_of(e.stream, e.position) m
                        UNION
                        SELECT m.city, m.district FROM dossier.moves_of(e.stream, e.position + 1) m) p;
            ELSIF v_target IS NOT NULL OR e.event_type = 'fault-tolerance' THEN
                -- A decision about another: judged where the worker was on its own date and on the
                -- date of the decision it rewrites, with it and without it.
                v_target := coalesce(e.payload ->> 'corrects', e.payload ->> 'rescinds', e.payload ->> 'appealed',
                                     e.payload ->> 'misconduct');
                SELECT string_agg(DISTINCT concat_ws('/', p.city, p.district), ', '),
                       coalesce(bool_and(dossier.covers(v_scopes, p.city, p.district)), false)
                  INTO v_places, v_ok
                  FROM (SELECT * FROM dossier.placement_on(e.stream, e.effective, e.position + 1, true)
                        UNION ALL
                        SELECT * FROM dossier.placement_on(e.stream, dossier.effective_of(e.stream, v_target, e.position),
                                                           e.position, true)
                        UNION ALL
                        SELECT * FROM dossier.placement_on(e.stream, dossier.effective_of(e.stream, v_target, e.position + 1),
                                                           e.position + 1, true)) p;
            ELSE
                SELECT * INTO v_place FROM dossier.placement_on(e.stream, e.effective, e.position + 1, true);
                v_places := nullif(concat_ws('/', v_place.city, v_place.district), '');
                v_ok := dossier.covers(v_scopes, v_place.city, v_place.district);
            END IF;
        ELSIF e.stream LIKE 'cadre/%' THEN
            SELECT string_agg(DISTINCT p.city || '/' || p.district, ', '),
                   coalesce(bool_and(dossier.covers(v_scopes, p.city, p.district)), false)
              INTO v_places, v_ok
              FROM dossier.placements p
             WHERE p.community = (SELECT t.payload ->> 'community' FROM dossier.events t
                                   WHERE t.stream = e.stream AND t.event_type = 'temporary-post'
                                     AND t.position <= e.position ORDER BY t.position DESC LIMIT 1)
               AND p.from_date <= e.effective AND (p.until_date IS NULL OR p.until_date > e.effective);
        ELSIF e.stream LIKE 'jurisdiction/%' THEN
            v_places := substr(e.stream, 14);
            v_ok := dossier.covers(v_scopes, split_part(v_places, '/', 1), nullif(split_part(v_places, '/', 2), ''));
        ELSIF e.stream = 'policy' THEN
            v_places := e.payload ->> 'jurisdiction';
            v_ok := v_places <> '*'
                AND dossier.covers(v_scopes, split_part(v_places, '/', 1), nullif(split_part(v_places, '/', 2), ''));
        END IF;
        IF NOT v_ok THEN
            RAISE EXCEPTION USING ERRCODE = 'DS013',
                MESSAGE = format('%s (hr) may not record %s %s for %s: on %s it belongs to %s, outside the scopes of %s (%s)',
                                 p_actor, e.event_type, e.reference, e.stream, e.effective,
                                 coalesce(nullif(v_places, ''), 'no known jurisdiction'), p_actor,
                                 coalesce(nullif(array_to_string(v_scopes, ', '), ''), 'none')),
                DETAIL = e.stream,
                HINT = 'An administrator can grant a scope: dossier user grant NAME --jurisdiction CITY/DISTRICT';
        END IF;
    END LOOP;
END
$fn$;
ALTER FUNCTION dossier.check_scope(text, text, bigint[]) OWNER TO dossier_owner;

-- Appends events to one stream atomically and returns one row per event (see 0001 for the
-- contract). The actor comes from the session; p_on_behalf_of is a note, stored apart.
-- p_personal/p_salts carry each event's personal data (NULL where it has none).
CREATE FUNCTION dossier.append_to_stream(
    p_stream text,
    p_expected integer,
    p_event_ids uuid[],
    p_types text[],
    p_schema_versions smallint[],
    p_payloads jsonb[],
    p_effective date[],
    p_authorities text[],
    p_references text[],
    p_personal jsonb[] DEFAULT NULL,
    p_salts bytea[] DEFAULT NULL,
    p_on_behalf_of text DEFAULT NULL)
RETURNS TABLE (o_position bigint, o_version integer, o_event_id uuid, o_recorded_at timestamptz, o_duplicate boolean,
               o_recorded_by text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n integer := cardinality(p_event_ids);
    v_actor record;
    v_current integer;
    v_base bigint;
    v_now timestamptz;
    v_duplicates integer := 0;
    v_existing record;
    v_problem text;
    i integer;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF v_actor.role NOT IN ('hr', 'admin') THEN
        PERFORM dossier.check_scope(v_actor.name, v_actor.role, '{}');
    END IF;
    IF n IS NULL OR n = 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'append_to_stream needs at least one event';
    END IF;
    IF cardinality(p_types) IS DISTINCT FROM n OR cardinality(p_schema_versions) IS DISTINCT FROM n
        OR cardinality(p_payloads) IS DISTINCT FROM n OR cardinality(p_effective) IS DISTINCT FROM n
        OR cardinality(p_authorities) IS DISTINCT FROM n OR cardinality(p_references) IS DISTINCT FROM n
        OR (p_personal IS NOT NULL AND cardinality(p_personal) <> n)
        OR (p_salts IS NOT NULL AND cardinality(p_salts) <> n)
        OR p_expected IS NULL OR p_stream IS NULL OR array_position(p_event_ids, NULL) IS NOT NULL
        OR array_position(p_schema_versions, NULL) IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'append_to_stream: arrays differ in length or hold NULLs';
    END IF;
    IF EXISTS (SELECT FROM unnest(p_personal) f WHERE f IS NOT NULL
                AND (jsonb_typeof(f) <> 'object' OR length(f::text) > 4000)) THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'refused: personal data must be an object of at most 4000 bytes';
    END IF;
    IF length(p_on_behalf_of) > 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'on behalf of: at most 200 characters';
    END IF;
    v_problem := dossier.event_problem(array_fill(p_stream, ARRAY[n]), p_types, p_payloads, p_effective,
                                       p_authorities, p_references, p_schema_versions);
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'refused: ' || v_problem;
    END IF;

    PERFORM 1 FROM dossier.append_locks WHERE name = 'barrier' FOR SHARE;
    PERFORM dossier.lock_key('stream:' || p_stream);

    -- Idempotency: same key and same content is a retry; same key, other content a conflict.
    FOR i IN 1..n LOOP
        SELECT e.position, e.version, e.event_id, e.recorded_at, e.payload, e.effective, e.authority
          INTO v_existing
          FROM dossier.events e
         WHERE e.stream = p_stream AND e.event_type = p_types[i] AND e.reference = p_references[i];
        IF FOUND THEN
            IF (v_existing.payload - 'personal' - 'exceptions') <> (p_payloads[i] - 'personal' - 'exceptions')
                OR v_existing.effective <> p_effective[i]
                OR v_existing.authority <> p_authorities[i] THEN
                RAISE EXCEPTION USING ERRCODE = 'DS003',
                    MESSAGE = 'a different decision is already recorded under this idempotency key',
                    DETAIL = v_existing.event_id::text;
            END IF;
            v_duplicates := v_duplicates + 1;
        END IF;
    END LOOP;
    IF v_duplicates = n THEN
        -- A retry tells what is recorded: only to those who may record it.
        PERFORM dossier.check_scope(v_actor.name, v_actor.role, ARRAY(
            SELECT e.position FROM unnest(p_types, p_references) AS k(t, r)
              JOIN dossier.events e ON e.stream = p_stream AND e.event_type = k.t AND e.reference = k.r));
        RETURN QUERY
            SELECT e.position, e.version, e.event_id, e.recorded_at, true, e.recorded_by
              FROM unnest(p_types, p_references) AS k(t, r)
              JOIN dossier.events e ON e.stream = p_stream AND e.event_type = k.t AND e.reference = k.r
             ORDER BY e.position;
        RETURN;
    ELSIF v_duplicates > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'DS003',
            MESSAGE = 'part of this batch is already recorded; send the remaining decisions on their own';
    END IF;

    SELECT coalesce(max(e.version), 0) INTO v_current FROM dossier.events e WHERE e.stream = p_stream;
    IF p_expected >= 0 AND p_expected <> v_current THEN
        RAISE EXCEPTION USING ERRCODE = 'DS002',
            MESSAGE = 'the stream is not at the expected version',
            DETAIL = v_current::text;
    END IF;

    v_base := dossier.take_positions(n);
    v_now := clock_timestamp();
    INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version,
                                payload, effective, recorded_at, recorded_by, authority, reference,
                                recorded_login, on_behalf_of)
    SELECT v_base + k.ord - 1, p_stream, v_current + k.ord::integer, k.id, k.t, k.sv, k.p, k.eff,
           v_now, v_actor.name, k.a, k.r, nullif(v_actor.login, v_actor.name), nullif(btrim(p_on_behalf_of), '')
      FROM unnest(p_event_ids, p_types, p_schema_versions, p_payloads, p_effective, p_authorities,
                  p_references) WITH ORDINALITY AS k(id, t, sv, p, eff, a, r, ord);
    IF p_personal IS NOT NULL THEN
        INSERT INTO dossier.personal_data (event_id, stream, fields, salt)
        SELECT k.id, p_stream, k.f, k.s
          FROM unnest(p_event_ids, p_personal, p_salts) AS k(id, f, s)
         WHERE k.f IS NOT NULL;
    END IF;
    v_problem := dossier.structural_problem(v_base, v_base + n - 1);
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'refused: ' || v_problem;
    END IF;
    PERFORM dossier.check_scope(v_actor.name, v_actor.role, ARRAY(SELECT generate_series(v_base, v_base + n - 1)));

    RETURN QUERY
        SELECT v_base + k.ord - 1, v_current + k.ord::integer, k.id, v_now, false, v_actor.name
          FROM unnest(p_event_ids) WITH ORDINALITY AS k(id, ord);
END
$fn$;
ALTER FUNCTION dossier.append_to_stream(text, integer, uuid[], text[], smallint[], jsonb[], date[], text[], text[],
    jsonb[], bytea[], text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.append_to_stream(text, integer, uuid[], text[], smallint[], jsonb[], date[], text[],
    text[], jsonb[], bytea[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.append_to_stream(text, integer, uuid[], text[], smallint[], jsonb[], date[], text[],
    text[], jsonb[], bytea[], text) TO dossier_writer;

-- Locks a jurisdiction's quota for the rest of the transaction (hires and transfers judge the
-- headcount under it).
CREATE FUNCTION dossier.lock_jurisdiction(p_jurisdiction text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF v_actor.role NOT IN ('hr', 'admin') THEN
        PERFORM dossier.check_scope(v_actor.name, v_actor.role, '{}');
    END IF;
    -- hr locks only the quotas of its jurisdictions (and of the cities they lie in): another
    -- quota is not locked at all, and the decision that wanted it is refused by the scope check.
    IF v_actor.role = 'hr' AND NOT EXISTS (
        SELECT FROM unnest(dossier.scopes_of(v_actor.name)) j
         WHERE j = p_jurisdiction OR j = split_part(p_jurisdiction, '/', 1) OR split_part(j, '/', 1) = p_jurisdiction) THEN
        RETURN;
    END IF;
    PERFORM dossier.lock_key('quota:' || p_jurisdiction);
END
$fn$;
ALTER FUNCTION dossier.lock_jurisdiction(text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.lock_jurisdiction(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.lock_jurisdiction(text) TO dossier_writer;

-- Takes the bulk-import barrier for the rest of the transaction: no single append runs beside it.
CREATE FUNCTION dossier.take_import_barrier() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF v_actor.role NOT IN ('hr', 'admin') THEN
        PERFORM dossier.check_scope(v_actor.name, v_actor.role, '{}');
    END IF;
    PERFORM 1 FROM dossier.append_locks WHERE name = 'barrier' FOR UPDATE;
    -- Rows a session staged and committed without appending them are refuse: cleared here, once
    -- per import (under the barrier nobody else stages).
    DELETE FROM dossier.staged_events WHERE pg_xact_status(txid) IS DISTINCT FROM 'in progress';
    DELETE FROM dossier.staged_placements WHERE pg_xact_status(txid) IS DISTINCT FROM 'in progress';
END
$fn$;
ALTER FUNCTION dossier.take_import_barrier() OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.take_import_barrier() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.take_import_barrier() TO dossier_writer;

-- Appends, in one transaction, the events this transaction staged in dossier.staged_events,
-- across many streams, under the import barrier; versions must continue each stream exactly and
-- no idempotency key may be taken already. Every event of the transaction gets the recorded time
-- of its first batch. Returns the first position and the number of events appended.
CREATE FUNCTION dossier.append_batch(p_on_behalf_of text DEFAULT NULL, p_chunk integer DEFAULT 0)
RETURNS TABLE (o_first_position bigint, o_count bigint, o_recorded_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $fn$
DECLARE
    v_actor record;
    v_tx xid8 := pg_current_xact_id();
    v_count bigint;
    v_base bigint;
    v_now timestamptz;
    v_bad record;
    v_problem text;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF v_actor.role NOT IN ('hr', 'admin') THEN
        PERFORM dossier.check_scope(v_actor.name, v_actor.role, '{}');
    END IF;
    PERFORM 1 FROM dossier.append_locks WHERE name = 'barrier' FOR UPDATE;
    SELECT count(*) INTO v_count FROM dossier.staged_events WHERE txid = v_tx AND chunk = p_chunk;
    IF v_count = 0 THEN
        RETURN QUERY SELECT NULL::bigint, 0::bigint, NULL::timestamptz;
        RETURN;
    END IF;

    SELECT dossier.event_problem(array_agg(s.stream ORDER BY s.ord), array_agg(s.event_type ORDER BY s.ord),
                                 array_agg(s.payload ORDER BY s.ord), array_agg(s.effective ORDER BY s.ord),
                                 array_agg(s.authority ORDER BY s.ord), array_agg(s.reference ORDER BY s.ord),
                                 array_agg(s.schema_version ORDER BY s.ord))
      INTO v_problem FROM dossier.staged_events s WHERE s.txid = v_tx AND s.chunk = p_chunk;
    IF v_problem IS NULL AND EXISTS (
        SELECT FROM dossier.staged_events s
         WHERE s.txid = v_tx AND s.chunk = p_chunk AND s.personal IS NOT NULL
           AND (jsonb_typeof(s.personal) <> 'object' OR length(s.personal::text) > 4000 OR s.salt IS NULL)) THEN
        v_problem := 'personal data must be an object of at most 4000 bytes, with its salt';
    END IF;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'refused: ' || v_problem;
    END IF;

    SELECT s.stream, coalesce(c.current, 0) AS current
      INTO v_bad
      FROM dossier.staged_events s
      LEFT JOIN LATERAL (SELECT max(e.version) AS current FROM dossier.events e WHERE e.stream = s.stream) c ON true
     WHERE s.txid = v_tx AND s.chunk = p_chunk
     GROUP BY s.stream, c.current
    HAVING min(s.version) <> coalesce(c.current, 0) + 1 OR max(s.version) - min(s.version) + 1 <> count(*)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'DS002',
            MESSAGE = 'a staged stream does not continue from its current version',
            DETAIL = v_bad.current::text,
            HINT = v_bad.stream;
    END IF;

    SELECT s.stream, e.event_id INTO v_bad
      FROM dossier.staged_events s
      JOIN dossier.events e ON e.stream = s.stream AND e.event_type = s.event_type AND e.reference = s.reference
     WHERE s.txid = v_tx AND s.chunk = p_chunk
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'DS003',
            MESSAGE = 'a staged decision is already recorded under its idempotency key',
            DETAIL = v_bad.event_id::text,
            HINT = v_bad.stream;
    END IF;

    v_base := dossier.take_positions(v_count);
    SELECT b.recorded_at INTO v_now FROM dossier.batch_clock b WHERE b.txid = v_tx;
    IF v_now IS NULL THEN
        v_now := clock_timestamp();
        INSERT INTO dossier.batch_clock VALUES (v_tx, v_now);
    END IF;
    INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version,
                                payload, effective, recorded_at, recorded_by, authority, reference,
                                recorded_login, on_behalf_of)
    SELECT v_base + row_number() OVER (ORDER BY s.ord) - 1, s.stream, s.version, s.event_id, s.event_type,
           s.schema_version, s.payload, s.effective, v_now, v_actor.name, s.authority, s.reference,
           nullif(v_actor.login, v_actor.name), nullif(btrim(p_on_behalf_of), '')
      FROM dossier.staged_events s
     WHERE s.txid = v_tx AND s.chunk = p_chunk
     ORDER BY s.ord;
    INSERT INTO dossier.personal_data (event_id, stream, fields, salt)
    SELECT s.event_id, s.stream, s.personal, s.salt
      FROM dossier.staged_events s WHERE s.txid = v_tx AND s.chunk = p_chunk AND s.personal IS NOT NULL;
    DELETE FROM dossier.staged_events WHERE txid = v_tx AND chunk = p_chunk;
    v_problem := dossier.structural_problem(v_base, v_base + v_count - 1);
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'refused: ' || v_problem;
    END IF;
    PERFORM dossier.check_scope(v_actor.name, v_actor.role, ARRAY(SELECT generate_series(v_base, v_base + v_count - 1)));
    RETURN QUERY SELECT v_base, v_count, v_now;
END
$fn$;
ALTER FUNCTION dossier.append_batch(text, integer) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.append_batch(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.append_batch(text, integer) TO dossier_writer;

-- Replaces the placement spans (the cache quota checks read) of the workers this transaction
-- staged in dossier.staged_placements; with p_all, of every worker. Only for workers with a stream.
CREATE FUNCTION dossier.apply_staged_placements(p_workers text[], p_all boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
    v_tx xid8 := pg_current_xact_id();
    v_count bigint;
    v_stray text;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF v_actor.role NOT IN ('hr', 'admin') OR (p_all AND v_actor.role <> 'admin') THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010',
            MESSAGE = format('"%s" may not maintain placements', v_actor.name);
    END IF;
    -- hr keeps the spans only of workers it appended to in this very transaction (so within its
    -- scopes); an admin those of any worker on record.
    SELECT w INTO v_stray
      FROM (SELECT s.worker AS w FROM dossier.staged_placements s WHERE s.txid = v_tx
            UNION SELECT unnest(p_workers)) x
     WHERE NOT (p_all OR x.w = ANY (p_workers))
        OR NOT EXISTS (SELECT FROM dossier.events e
                        WHERE e.stream = 'worker/' || x.w
                          AND (v_actor.role = 'admin' OR e.xmin = pg_current_xact_id()::xid))
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011',
            MESSAGE = format('placements of worker %s may be kept only with a decision for that worker in the same transaction', v_stray);
    END IF;
    -- Spans within the dates Dossier reads and, for hr, only in places the log gives the worker.
    SELECT s.worker INTO v_stray FROM dossier.staged_placements s
     WHERE s.txid = v_tx
       AND (s.from_date NOT BETWEEN '1900-01-01' AND '2199-12-31'
            OR (s.until_date IS NOT NULL AND s.until_date NOT BETWEEN '1900-01-01' AND '2199-12-31')
            OR (v_actor.role = 'hr' AND NOT EXISTS (
                    SELECT FROM dossier.moves_of('worker/' || s.worker) m
                     WHERE m.city = s.city AND m.district = s.district)))
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011',
            MESSAGE = format('placements staged for worker %s do not match the log', v_stray);
    END IF;
    IF p_all THEN
        DELETE FROM dossier.placements;
    ELSE
        DELETE FROM dossier.placements WHERE worker = ANY (p_workers);
    END IF;
    INSERT INTO dossier.placements (worker, span, city, district, street, community, from_date, until_date)
    SELECT worker, span, city, district, street, community, from_date, until_date
      FROM dossier.staged_placements WHERE txid = v_tx;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    DELETE FROM dossier.staged_placements WHERE txid = v_tx;
    RETURN v_count;
END
$fn$;
ALTER FUNCTION dossier.apply_staged_placements(text[], boolean) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.apply_staged_placements(text[], boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.apply_staged_placements(text[], boolean) TO dossier_writer;

-- ---------------------------------------------------------------------------------------------
-- The access stream: people and scopes, each change an event.
CREATE FUNCTION dossier.append_access(p_type text, p_payload jsonb, p_authority text, p_reference text,
                                      p_actor text, p_login text)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_id uuid := gen_random_uuid();
    v_version integer;
    v_base bigint;
    v_problem text;
BEGIN
    v_problem := dossier.event_problem(ARRAY['access'], ARRAY[p_type], ARRAY[p_payload], ARRAY[current_date],
                                       ARRAY[p_authority], ARRAY[p_reference], ARRAY[1::smallint], true);
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'refused: ' || v_problem;
    END IF;
    PERFORM 1 FROM dossier.append_locks WHERE name = 'barrier' FOR SHARE;
    PERFORM dossier.lock_key('stream:access');
    IF EXISTS (SELECT FROM dossier.events e WHERE e.stream = 'access' AND e.event_type = p_type AND e.reference = p_reference) THEN
        RAISE EXCEPTION USING ERRCODE = 'DS003', MESSAGE = format('the reference %s is already used for %s', p_reference, p_type);
    END IF;
    SELECT coalesce(max(e.version), 0) + 1 INTO v_version FROM dossier.events e WHERE e.stream = 'access';
    v_base := dossier.take_positions(1);
    INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version, payload, effective,
                                recorded_at, recorded_by, authority, reference, recorded_login)
    VALUES (v_base, 'access', v_version, v_id, p_type, 1, p_payload, current_date, clock_timestamp(), p_actor,
            p_authority, p_reference, nullif(p_login, p_actor));
    RETURN v_id;
END
$fn$;
ALTER FUNCTION dossier.append_access(text, jsonb, text, text, text, text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.append_access(text, jsonb, text, text, text, text) FROM PUBLIC;

-- Whether a jurisdiction is written City or City/District.
CREATE FUNCTION dossier.check_jurisdiction(p text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF p IS NULL OR p !~ '^[^/[:space:][:cntrl:]   -     　﻿]{1,100}(/[^/[:space:][:cntrl:]   -     　﻿]{1,100})?$' THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011',
            MESSAGE = format('the jurisdiction "%s" must be written CITY or CITY/DISTRICT', left(coalesce(p, ''), 60));
    END IF;
END
$fn$;
ALTER FUNCTION dossier.check_jurisdiction(text) OWNER TO dossier_owner;

-- Who may manage people: an admin, or a superuser session (the installer).
CREATE FUNCTION dossier.require_admin(OUT name text, OUT login text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF v_actor.role <> 'admin' THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010',
            MESSAGE = format('"%s" is not an admin: only admins manage people and scopes', v_actor.name);
    END IF;
    name := v_actor.name;
    login := v_actor.login;
END
$fn$;
ALTER FUNCTION dossier.require_admin() OWNER TO dossier_owner;

-- Registers a person: with p_verifier, creates their LOGIN role with that SCRAM-SHA-256 verifier
-- (computed by the client, so no password travels or is logged); with p_verifier NULL, registers
-- an existing login role (only for a superuser session: the installer adopting itself or others).
CREATE FUNCTION dossier.add_person(p_name text, p_role text, p_jurisdictions text[], p_verifier text,
                                   p_authority text, p_reference text)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_admin record;
    v_role record;
    v_id uuid;
    v_group text;
    j text;
BEGIN
    SELECT * INTO v_admin FROM dossier.require_admin();
    -- New logins get plain names; an existing login (adopted by a superuser) keeps its own.
    IF p_name IS NULL OR (p_verifier IS NOT NULL AND (p_name !~ '^[a-z][a-z0-9_.-]{1,62}$' OR p_name LIKE 'pg\_%'
                                                     OR p_name LIKE 'dossier\_%')) THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011',
            MESSAGE = format('the user name "%s" must be 2 to 63 lowercase letters, digits, "_", "." or "-", starting with a letter, and not start with pg_ or dossier_', left(coalesce(p_name, ''), 70));
    END IF;
    IF p_role IS NULL OR p_role NOT IN ('hr', 'reviewer', 'auditor', 'admin') THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'the role must be hr, reviewer, auditor or admin';
    END IF;
    IF EXISTS (SELECT FROM dossier.people WHERE name = p_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = format('"%s" is already a Dossier user of this ledger', p_name);
    END IF;
    FOREACH j IN ARRAY coalesce(p_jurisdictions, '{}') LOOP
        PERFORM dossier.check_jurisdiction(j);
    END LOOP;
    IF p_role = 'hr' AND coalesce(cardinality(p_jurisdictions), 0) = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011',
            MESSAGE = 'an hr user needs at least one --jurisdiction (CITY or CITY/DISTRICT)';
    END IF;
    SELECT r.rolsuper, r.rolcanlogin INTO v_role FROM pg_roles r WHERE r.rolname = p_name;
    IF p_verifier IS NOT NULL THEN
        IF FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'DS011',
                MESSAGE = format('a database role "%s" exists already; choose another name', p_name);
        END IF;
        IF p_verifier !~ '^SCRAM-SHA-256\$' THEN
            RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'the password must come as a SCRAM-SHA-256 verifier';
        END IF;
        EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', p_name, p_verifier);
    ELSE
        IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = session_user AND r.rolsuper) THEN
            RAISE EXCEPTION USING ERRCODE = 'DS010', MESSAGE = 'only a superuser may register an existing database role';
        END IF;
        IF NOT FOUND OR NOT v_role.rolcanlogin THEN
            RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = format('"%s" is not a login role of this cluster', p_name);
        END IF;
    END IF;
    v_group := CASE p_role WHEN 'hr' THEN 'dossier_writer' WHEN 'reviewer' THEN 'dossier_reviewer'
                           WHEN 'auditor' THEN 'dossier_reader' ELSE 'dossier_admin' END;
    EXECUTE format('GRANT %I TO %I', v_group, p_name);
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), p_name);
    v_id := dossier.append_access('person-added',
        jsonb_build_object('person', p_name, 'role', p_role, 'jurisdictions', to_jsonb(coalesce(p_jurisdictions, '{}'))),
        p_authority, p_reference, v_admin.name, v_admin.login);
    INSERT INTO dossier.people (name, role, added_at, added_by) VALUES (p_name, p_role, clock_timestamp(), v_admin.name);
    INSERT INTO dossier.scopes (person, jurisdiction, granted_at, granted_by, granted_event)
    SELECT DISTINCT p_name, j2, clock_timestamp(), v_admin.name, v_id FROM unnest(coalesce(p_jurisdictions, '{}')) j2;
    RETURN v_id;
END
$fn$;
ALTER FUNCTION dossier.add_person(text, text, text[], text, text, text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.add_person(text, text, text[], text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.add_person(text, text, text[], text, text, text) TO dossier_admin;

CREATE FUNCTION dossier.grant_scope(p_name text, p_jurisdiction text, p_authority text, p_reference text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_admin record;
    v_id uuid;
BEGIN
    SELECT * INTO v_admin FROM dossier.require_admin();
    PERFORM dossier.check_jurisdiction(p_jurisdiction);
    IF NOT EXISTS (SELECT FROM dossier.people WHERE name = p_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'DS012', MESSAGE = format('no Dossier user "%s"', left(coalesce(p_name, ''), 70));
    END IF;
    IF EXISTS (SELECT FROM dossier.scopes WHERE person = p_name AND jurisdiction = p_jurisdiction AND revoked_at IS NULL) THEN
        RETURN NULL;  -- already granted: nothing to record
    END IF;
    v_id := dossier.append_access('scope-granted', jsonb_build_object('person', p_name, 'jurisdiction', p_jurisdiction),
                                  p_authority, p_reference, v_admin.name, v_admin.login);
    INSERT INTO dossier.scopes (person, jurisdiction, granted_at, granted_by, granted_event)
    VALUES (p_name, p_jurisdiction, clock_timestamp(), v_admin.name, v_id);
    RETURN v_id;
END
$fn$;
ALTER FUNCTION dossier.grant_scope(text, text, text, text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.grant_scope(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.grant_scope(text, text, text, text) TO dossier_admin;

CREATE FUNCTION dossier.revoke_scope(p_name text, p_jurisdiction text, p_authority text, p_reference text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_admin record;
    v_id uuid;
BEGIN
    SELECT * INTO v_admin FROM dossier.require_admin();
    IF NOT EXISTS (SELECT FROM dossier.scopes WHERE person = p_name AND jurisdiction = p_jurisdiction AND revoked_at IS NULL) THEN
        RAISE EXCEPTION USING ERRCODE = 'DS012',
            MESSAGE = format('"%s" holds no scope %s', left(coalesce(p_name, ''), 70), left(coalesce(p_jurisdiction, ''), 60));
    END IF;
    v_id := dossier.append_access('scope-revoked', jsonb_build_object('person', p_name, 'jurisdiction', p_jurisdiction),
                                  p_authority, p_reference, v_admin.name, v_admin.login);
    UPDATE dossier.scopes SET revoked_at = clock_timestamp(), revoked_by = v_admin.name, revoked_event = v_id
     WHERE person = p_name AND jurisdiction = p_jurisdiction AND revoked_at IS NULL;
    RETURN v_id;
END
$fn$;
ALTER FUNCTION dossier.revoke_scope(text, text, text, text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.revoke_scope(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.revoke_scope(text, text, text, text) TO dossier_admin;

-- Disables a person: they can no longer connect to this ledger and it refuses them as an actor.
-- Nothing about them is deleted.
CREATE FUNCTION dossier.disable_person(p_name text, p_authority text, p_reference text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_admin record;
    v_id uuid;
BEGIN
    SELECT * INTO v_admin FROM dossier.require_admin();
    IF NOT EXISTS (SELECT FROM dossier.people WHERE name = p_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'DS012', MESSAGE = format('no Dossier user "%s"', left(coalesce(p_name, ''), 70));
    END IF;
    IF p_name = v_admin.name THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'an admin cannot disable themselves';
    END IF;
    IF EXISTS (SELECT FROM dossier.people WHERE name = p_name AND disabled_at IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    v_id := dossier.append_access('person-disabled', jsonb_build_object('person', p_name), p_authority, p_reference,
                                  v_admin.name, v_admin.login);
    UPDATE dossier.people SET disabled_at = clock_timestamp(), disabled_by = v_admin.name WHERE name = p_name;
    -- This ledger only: the login may still be a person of another ledger on the cluster.
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM %I', current_database(), p_name);
    RETURN v_id;
END
$fn$;
ALTER FUNCTION dossier.disable_person(text, text, text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.disable_person(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.disable_person(text, text, text) TO dossier_admin;

-- Who could record for a jurisdiction at a time, and who gave them that right.
CREATE FUNCTION dossier.who_could_record(p_jurisdiction text, p_at timestamptz)
RETURNS TABLE (person text, role text, scope text, granted_at timestamptz, granted_by text, revoked_at timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT p.name, p.role, coalesce(s.jurisdiction, '(everywhere)'), coalesce(s.granted_at, p.added_at),
           coalesce(s.granted_by, p.added_by), coalesce(s.revoked_at, p.disabled_at)
      FROM dossier.people p
      LEFT JOIN dossier.scopes s ON s.person = p.name AND p.role = 'hr'
     WHERE p.added_at <= p_at AND (p.disabled_at IS NULL OR p.disabled_at > p_at)
       AND (p.role = 'admin'
            OR (p.role = 'hr' AND s.granted_at <= p_at AND (s.revoked_at IS NULL OR s.revoked_at > p_at)
                AND (s.jurisdiction = p_jurisdiction OR s.jurisdiction = split_part(p_jurisdiction, '/', 1))))
     ORDER BY 1, 3
$fn$;
ALTER FUNCTION dossier.who_could_record(text, timestamptz) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.who_could_record(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.who_could_record(text, timestamptz) TO dossier_reader;

-- ---------------------------------------------------------------------------------------------
-- Personal data is read in two steps, so that no read escapes the access log: the reader first
-- asks (dossier.request_personal_access, in a transaction of its own that commits the log rows),
-- then reads (dossier.personal_data_of), which serves only what a committed request of the same
-- person asked for in the last five minutes. Rolling back the read cannot roll back its record.

-- The worker streams among p_streams whose personal data the actor may read: admins and
-- reviewers all; hr those of workers who served in its jurisdictions at some time (as the log says).
CREATE FUNCTION dossier.readable_streams(p_actor text, p_role text, p_streams text[]) RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_scopes text[];
    v_allowed text[] := '{}';
    s text;
BEGIN
    IF p_role IN ('admin', 'reviewer') THEN
        RETURN coalesce(p_streams, '{}');
    ELSIF p_role = 'hr' THEN
        v_scopes := dossier.scopes_of(p_actor);
        FOREACH s IN ARRAY coalesce(p_streams, '{}') LOOP
            IF EXISTS (SELECT FROM dossier.moves_of(s) m WHERE dossier.covers(v_scopes, m.city, m.district)) THEN
                v_allowed := v_allowed || s;
            END IF;
        END LOOP;
    END IF;
    RETURN v_allowed;
END
$fn$;
ALTER FUNCTION dossier.readable_streams(text, text, text[]) OWNER TO dossier_owner;

-- Step 1: records in the access log the reads the actor is about to make (of the streams it may
-- read) and returns how many it recorded. Call it outside the reading transaction.
CREATE FUNCTION dossier.request_personal_access(p_streams text[], p_what text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
    v_count integer;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF cardinality(p_streams) > 100000 THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'at most 100000 records at a time';
    END IF;
    INSERT INTO dossier.access_log (reader, login, worker, what)
    SELECT DISTINCT v_actor.name, v_actor.login, regexp_replace(pd.stream, '^[a-z]+/', ''),
           left(coalesce(nullif(btrim(p_what), ''), 'read'), 100)
      FROM dossier.personal_data pd
     WHERE pd.stream = ANY (dossier.readable_streams(v_actor.name, v_actor.role, p_streams));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RAISE LOG 'dossier: % (login %) requested personal data of % records (%)', v_actor.name, v_actor.login, v_count, p_what;
    RETURN v_count;
END
$fn$;
ALTER FUNCTION dossier.request_personal_access(text[], text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.request_personal_access(text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.request_personal_access(text[], text) TO dossier_reader;

-- Step 2: the personal-data rows of p_streams. Fields and salts come only for streams the actor
-- may read and whose read a committed request of the actor logged in the last five minutes;
-- the rest come withheld (auditors always).
CREATE FUNCTION dossier.personal_data_of(p_streams text[])
RETURNS TABLE (event_id uuid, stream text, fields jsonb, erased boolean, erased_at timestamptz, erased_by text,
               erasure_reference text, withheld boolean, salt bytea)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
    v_allowed text[];
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    SELECT coalesce(array_agg(s), '{}') INTO v_allowed
      FROM unnest(dossier.readable_streams(v_actor.name, v_actor.role, p_streams)) s
     WHERE EXISTS (SELECT FROM dossier.access_log l
                    WHERE l.worker = regexp_replace(s, '^[a-z]+/', '') AND l.reader = v_actor.name
                      AND l.at > clock_timestamp() - interval '5 minutes'
                      AND pg_xact_status(l.txid) = 'committed');
    RETURN QUERY
        SELECT pd.event_id, pd.stream, CASE WHEN pd.stream = ANY (v_allowed) THEN pd.fields END, pd.erased_at IS NOT NULL,
               pd.erased_at, pd.erased_by, pd.erasure_reference, NOT (pd.stream = ANY (v_allowed)),
               CASE WHEN pd.stream = ANY (v_allowed) THEN pd.salt END
          FROM dossier.personal_data pd
         WHERE pd.stream = ANY (p_streams);
END
$fn$;
ALTER FUNCTION dossier.personal_data_of(text[]) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.personal_data_of(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.personal_data_of(text[]) TO dossier_reader;

-- Finds workers by name (a substring) among those the caller may read, and returns their
-- streams only: the names themselves are read through request_personal_access and
-- personal_data_of like any personal data. The search itself must have been requested and
-- committed first (dossier.request_name_search), so the access log holds every search.
CREATE FUNCTION dossier.find_by_name(p_name text)
RETURNS TABLE (stream text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
    v_pattern text := '%' || replace(replace(replace(p_name, '\', '\\'), '%', '\%'), '_', '\_') || '%';
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF v_actor.role = 'auditor' THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010', MESSAGE = 'auditors do not read personal data, names included';
    END IF;
    IF coalesce(length(btrim(p_name)), 0) = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'give part of a name to search for';
    END IF;
    IF NOT EXISTS (SELECT FROM dossier.access_log l
                    WHERE l.worker = 'name:' || encode(sha256(convert_to(p_name, 'UTF8')), 'hex') AND l.reader = v_actor.name
                      AND l.at > clock_timestamp() - interval '5 minutes' AND pg_xact_status(l.txid) = 'committed') THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010',
            MESSAGE = 'a search by name must be logged first: dossier.request_name_search(NAME), committed';
    END IF;
    RETURN QUERY
        SELECT x FROM unnest(dossier.readable_streams(v_actor.name, v_actor.role,
                   ARRAY(SELECT DISTINCT pd.stream FROM dossier.personal_data pd WHERE pd.fields ->> 'name' LIKE v_pattern))) x
         ORDER BY 1;
END
$fn$;
ALTER FUNCTION dossier.find_by_name(text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.find_by_name(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.find_by_name(text) TO dossier_reader;

-- Logs a search by name (step 1 of dossier.find_by_name); call it in a transaction of its own.
CREATE FUNCTION dossier.request_name_search(p_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF v_actor.role = 'auditor' THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010', MESSAGE = 'auditors do not read personal data, names included';
    END IF;
    IF coalesce(length(btrim(p_name)), 0) = 0 OR length(p_name) > 100 THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'give part of a name (at most 100 characters) to search for';
    END IF;
    INSERT INTO dossier.access_log (reader, login, worker, what)
    -- The name searched for is itself personal data: the log keeps its hash (auditors read the log).
    VALUES (v_actor.name, v_actor.login, 'name:' || encode(sha256(convert_to(p_name, 'UTF8')), 'hex'), 'find by name');
END
$fn$;
ALTER FUNCTION dossier.request_name_search(text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.request_name_search(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.request_name_search(text) TO dossier_reader;

-- Erases a worker's personal data under a lawful request: clears the fields and salts (the events
-- and every proof stay intact) and records an `erasure` event in the worker's stream. An admin, or
-- hr in scope. The same erasure again changes nothing; returns the erasure event's id.
CREATE FUNCTION dossier.erase_personal_data(p_worker text, p_authority text, p_reference text)
RETURNS TABLE (o_event_id uuid, o_erased integer, o_duplicate boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
    v_stream text := 'worker/' || p_worker;
    v_existing uuid;
    v_count integer;
    v_version integer;
    v_base bigint;
    v_id uuid := gen_random_uuid();
    v_now timestamptz;
    v_problem text;
    v_place record;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF NOT EXISTS (SELECT FROM dossier.events e WHERE e.stream = v_stream) THEN
        RAISE EXCEPTION USING ERRCODE = 'DS012', MESSAGE = format('no record of worker %s', left(coalesce(p_worker, ''), 70));
    END IF;
    IF v_actor.role = 'hr' THEN
        -- Irreversible: hr erases only workers who never served outside its jurisdictions.
        SELECT string_agg(DISTINCT concat_ws('/', m.city, m.district), ', ') AS places,
               coalesce(bool_and(dossier.covers(dossier.scopes_of(v_actor.name), m.city, m.district)), false) AS ok
          INTO v_place FROM dossier.moves_of(v_stream) m;
        IF NOT v_place.ok THEN
            RAISE EXCEPTION USING ERRCODE = 'DS013',
                MESSAGE = format('%s (hr) may not erase the personal data of %s: the worker served in %s, outside the scopes of %s (%s)',
                                 v_actor.name, p_worker, coalesce(v_place.places, 'no known jurisdiction'), v_actor.name,
                                 array_to_string(dossier.scopes_of(v_actor.name), ', '));
        END IF;
    ELSIF v_actor.role <> 'admin' THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010',
            MESSAGE = format('"%s" is a %s: only an admin or hr in scope erases personal data', v_actor.name, v_actor.role);
    END IF;
    PERFORM 1 FROM dossier.append_locks WHERE name = 'barrier' FOR SHARE;
    PERFORM dossier.lock_key('stream:' || v_stream);
    SELECT e.event_id INTO v_existing FROM dossier.events e
     WHERE e.stream = v_stream AND e.event_type = 'erasure' AND e.reference = p_reference;
    IF FOUND THEN
        RETURN QUERY SELECT v_existing, 0, true;
        RETURN;
    END IF;
    SELECT count(*) INTO v_count FROM dossier.personal_data pd WHERE pd.stream = v_stream AND pd.erased_at IS NULL;
    v_problem := dossier.event_problem(ARRAY[v_stream], ARRAY['erasure'], ARRAY[jsonb_build_object('erased', v_count)],
                                       ARRAY[current_date], ARRAY[p_authority], ARRAY[p_reference], ARRAY[1::smallint], true);
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'DS011', MESSAGE = 'refused: ' || v_problem;
    END IF;
    SELECT coalesce(max(e.version), 0) + 1 INTO v_version FROM dossier.events e WHERE e.stream = v_stream;
    v_base := dossier.take_positions(1);
    v_now := clock_timestamp();
    INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version, payload, effective,
                                recorded_at, recorded_by, authority, reference, recorded_login)
    VALUES (v_base, v_stream, v_version, v_id, 'erasure', 1, jsonb_build_object('erased', v_count), current_date, v_now,
            v_actor.name, p_authority, p_reference, nullif(v_actor.login, v_actor.name));
    UPDATE dossier.personal_data SET fields = NULL, salt = NULL, erased_at = v_now, erased_by = v_actor.name,
                                     erasure_reference = p_reference
     WHERE stream = v_stream AND erased_at IS NULL;
    RETURN QUERY SELECT v_id, v_count, false;
END
$fn$;
ALTER FUNCTION dossier.erase_personal_data(text, text, text) OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.erase_personal_data(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.erase_personal_data(text, text, text) TO dossier_writer;

-- Personal-data commitments for `dossier verify` (admins only: it reads every record, logged once).
CREATE FUNCTION dossier.personal_commitments()
RETURNS TABLE (event_id uuid, stream text, fields jsonb, salt bytea, erased boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_actor record;
BEGIN
    SELECT * INTO v_actor FROM dossier.actor();
    IF v_actor.role <> 'admin' THEN
        RAISE EXCEPTION USING ERRCODE = 'DS010', MESSAGE = 'only an admin checks personal-data commitments';
    END IF;
    INSERT INTO dossier.access_log (reader, login, worker, what) VALUES (v_actor.name, v_actor.login, '*', 'verify');
    RETURN QUERY SELECT pd.event_id, pd.stream, pd.fields, pd.salt, pd.erased_at IS NOT NULL FROM dossier.personal_data pd;
END
$fn$;
ALTER FUNCTION dossier.personal_commitments() OWNER TO dossier_owner;
REVOKE ALL ON FUNCTION dossier.personal_commitments() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dossier.personal_commitments() TO dossier_admin;

-- ---------------------------------------------------------------------------------------------
-- The read side belongs to the owner. The projector writes rows; rebuilds go through owner
-- functions, so nobody below the owner can redefine a table or view an auditor reads.
DO $read_side$
DECLARE
    t record;
BEGIN
    PERFORM dossier_read.drop_views();
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'dossier_read' LOOP
        EXECUTE format('ALTER TABLE dossier_read.%I OWNER TO dossier_owner', t.tablename);
        EXECUTE format('REVOKE ALL ON dossier_read.%I FROM dossier_writer', t.tablename);
        EXECUTE format('GRANT SELECT ON dossier_read.%I TO dossier_reader', t.tablename);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON dossier_read.%I TO dossier_projector', t.tablename);
    END LOOP;
END
$read_side$;
ALTER FUNCTION dossier_read.create_views() OWNER TO dossier_owner;
ALTER FUNCTION dossier_read.drop_views() OWNER TO dossier_owner;
ALTER FUNCTION dossier_read.create_views() SECURITY DEFINER;
ALTER FUNCTION dossier_read.drop_views() SECURITY DEFINER;
ALTER FUNCTION dossier_read.create_views() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION dossier_read.drop_views() SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION dossier_read.create_views(), dossier_read.drop_views() FROM PUBLIC;
SET LOCAL ROLE dossier_owner;
SELECT dossier_read.create_views();
RESET ROLE;
GRANT SELECT ON ALL TABLES IN SCHEMA dossier_read TO dossier_reader;

-- The tables a rebuild may replace.
CREATE FUNCTION dossier_read.check_projections(p_tables text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF EXISTS (SELECT FROM unnest(p_tables) t
                WHERE t IS NULL OR t NOT IN ('worker_timeline', 'audit_trail', 'assessments', 'level_history',
                                             'assignments', 'quotas')) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'not a projection table';
    END IF;
END
$fn$;
ALTER FUNCTION dossier_read.check_projections(text[]) OWNER TO dossier_owner;

-- Creates empty `<table>_next` copies for a rebuild to fill (dropping leftovers).
CREATE FUNCTION dossier_read.prepare_next(p_tables text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
BEGIN
    PERFORM dossier_read.check_projections(p_tables);
    FOREACH t IN ARRAY p_tables LOOP
        EXECUTE format('DROP TABLE IF EXISTS dossier_read.%I', t || '_next');
        EXECUTE format('CREATE TABLE dossier_read.%I (LIKE dossier_read.%I INCLUDING ALL)', t || '_next', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON dossier_read.%I TO dossier_projector', t || '_next');
    END LOOP;
END
$fn$;

-- Swaps the filled `<table>_next` tables in, with the views recreated around them.
CREATE FUNCTION dossier_read.swap_next(p_tables text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
BEGIN
    PERFORM dossier_read.check_projections(p_tables);
    PERFORM dossier_read.drop_views();
    FOREACH t IN ARRAY p_tables LOOP
        EXECUTE format('DROP TABLE dossier_read.%I', t);
        EXECUTE format('ALTER TABLE dossier_read.%I RENAME TO %I', t || '_next', t);
        EXECUTE format('GRANT SELECT ON dossier_read.%I TO dossier_reader', t);
    END LOOP;
    PERFORM dossier_read.create_views();
    GRANT SELECT ON ALL TABLES IN SCHEMA dossier_read TO dossier_reader;
END
$fn$;

-- Drops `<table>_next` tables (after a comparison).
CREATE FUNCTION dossier_read.drop_next(p_tables text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
BEGIN
    PERFORM dossier_read.check_projections(p_tables);
    FOREACH t IN ARRAY p_tables LOOP
        EXECUTE format('DROP TABLE IF EXISTS dossier_read.%I', t || '_next');
    END LOOP;
END
$fn$;
DO $owners$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['prepare_next', 'swap_next', 'drop_next'] LOOP
        EXECUTE format('ALTER FUNCTION dossier_read.%I(text[]) OWNER TO dossier_owner', f);
        EXECUTE format('REVOKE ALL ON FUNCTION dossier_read.%I(text[]) FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION dossier_read.%I(text[]) TO dossier_projector', f);
    END LOOP;
END
$owners$;
GRANT USAGE ON SCHEMA dossier_read TO dossier_projector;

-- The installer (the session applying this migration) is the first admin, when it is a login: the
-- root of trust of this ledger, registered here (added by itself) rather than by an access event.
-- Every later change to people and scopes is an event of the `access` stream. Existing events keep
-- the recorded_by they were written with.
INSERT INTO dossier.people (name, role, added_at, added_by)
SELECT session_user, 'admin', clock_timestamp(), session_user
  FROM pg_roles r WHERE r.rolname = session_user AND r.rolcanlogin;
