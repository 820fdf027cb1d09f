-- 0001: the append-only event log, the personal data kept beside it, and the roles that guard them.
--
-- Applied by `dossier init` in one transaction, as a role allowed to create roles and schemas.

-- Roles are cluster-wide and shared by every Dossier database on the cluster. None of them can
-- log in: people and programs log in as their own roles and are granted one of these.
--   dossier_owner   owns every object; cannot log in, so nobody acts as the owner day to day
--   dossier_writer  appends events (INSERT, SELECT on the log) and maintains projections
--   dossier_reader  auditors: SELECT only
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['dossier_owner', 'dossier_writer', 'dossier_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another database on this cluster created it meanwhile
            END;
        END IF;
    END LOOP;
END
$roles$;

CREATE SCHEMA dossier AUTHORIZATION dossier_owner;
GRANT USAGE ON SCHEMA dossier TO dossier_writer, dossier_reader;

-- Global positions. Appends take them under one lock held until they commit (see
-- dossier.append_to_stream), so positions become visible in the order they were taken: a reader
-- that has seen position p has seen every committed position below it, and never skips an event
-- whose transaction commits late. An append that fails after taking positions (a crash, a lost
-- connection) leaves a gap; the Merkle tree numbers its leaves densely.
CREATE SEQUENCE dossier.event_position AS bigint MINVALUE 1 NO CYCLE;
ALTER SEQUENCE dossier.event_position OWNER TO dossier_owner;

CREATE TABLE dossier.events (
    position        bigint      NOT NULL,
    stream          text        NOT NULL,
    version         integer     NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    schema_version  smallint    NOT NULL,
    payload         jsonb       NOT NULL,
    effective       date        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    recorded_by     text        NOT NULL,
    authority       text        NOT NULL,
    reference       text        NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_stream_version UNIQUE (stream, version),
    CONSTRAINT events_event_id UNIQUE (event_id),
    -- The idempotency key: one decision of a kind per reference in a stream.
    CONSTRAINT events_idempotency UNIQUE (stream, event_type, reference),
    CONSTRAINT events_version_positive CHECK (version >= 1),
    CONSTRAINT events_schema_version_positive CHECK (schema_version >= 1),
    CONSTRAINT events_payload_object CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT events_text_not_blank CHECK (
        stream <> '' AND event_type <> '' AND recorded_by <> '' AND authority <> '' AND reference <> '')
);
ALTER TABLE dossier.events OWNER TO dossier_owner;
COMMENT ON TABLE dossier.events IS
    'The append-only log of every decision. Rows are never updated or deleted.';
COMMENT ON COLUMN dossier.events.effective IS 'Valid time: when the decision takes effect.';
COMMENT ON COLUMN dossier.events.recorded_at IS 'Transaction time: the database clock when it was appended.';

-- Personal data lives beside the log, never in it: an event commits to it by a salted hash.
-- Erasure clears `fields` and `salt`; the event and every proof over it stay intact.
CREATE TABLE dossier.personal_data (
    event_id    uuid        NOT NULL PRIMARY KEY REFERENCES dossier.events (event_id),
    stream      text        NOT NULL,
    fields      jsonb,
    salt        bytea,
    erased_at   timestamptz,
    erased_by   text,
    erasure_reference text,
    CONSTRAINT personal_data_erased_consistently CHECK (
        (erased_at IS NULL AND fields IS NOT NULL AND salt IS NOT NULL)
        OR (erased_at IS NOT NULL AND fields IS NULL AND salt IS NULL AND erased_by IS NOT NULL
            AND erasure_reference IS NOT NULL))
);
ALTER TABLE dossier.personal_data OWNER TO dossier_owner;
CREATE INDEX personal_data_stream ON dossier.personal_data (stream);

-- Guards. Privileges stop the writer and reader roles; these triggers stop everybody else who
-- is not a superuser willing to disable them (and the Merkle tree catches that).
CREATE FUNCTION dossier.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'DS001',
        MESSAGE = format('%s on %s is refused: the event log is append-only', TG_OP, TG_TABLE_NAME),
        HINT = 'Record a correction or rescission decision instead.';
END
$fn$;
ALTER FUNCTION dossier.refuse_change() OWNER TO dossier_owner;

CREATE TRIGGER events_refuse_update_delete BEFORE UPDATE OR DELETE ON dossier.events
    FOR EACH ROW EXECUTE FUNCTION dossier.refuse_change();
CREATE TRIGGER events_refuse_truncate BEFORE TRUNCATE ON dossier.events
    FOR EACH STATEMENT EXECUTE FUNCTION dossier.refuse_change();

-- Inserts must come through the append functions, which take positions under the ordering
-- lock; a plain INSERT could break the order readers rely on.
CREATE FUNCTION dossier.require_append_function() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF coalesce(current_setting('dossier.appending', true), '') <> 'on' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'DS001',
            MESSAGE = 'INSERT on events is refused: append through dossier.append_to_stream or dossier.append_batch';
    END IF;
    RETURN NULL;
END
$fn$;
ALTER FUNCTION dossier.require_append_function() OWNER TO dossier_owner;
CREATE TRIGGER events_require_append_function BEFORE INSERT ON dossier.events
    FOR EACH STATEMENT EXECUTE FUNCTION dossier.require_append_function();

-- Personal data may only be erased, never rewritten or deleted.
CREATE FUNCTION dossier.personal_data_erase_only() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL
        AND NEW.fields IS NULL AND NEW.salt IS NULL
        AND NEW.event_id = OLD.event_id AND NEW.stream = OLD.stream THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'DS001',
        MESSAGE = format('%s on personal_data is refused: personal data can only be erased', TG_OP);
END
$fn$;
ALTER FUNCTION dossier.personal_data_erase_only() OWNER TO dossier_owner;
CREATE TRIGGER personal_data_erase_only BEFORE UPDATE OR DELETE ON dossier.personal_data
    FOR EACH ROW EXECUTE FUNCTION dossier.personal_data_erase_only();
CREATE TRIGGER personal_data_refuse_truncate BEFORE TRUNCATE ON dossier.personal_data
    FOR EACH STATEMENT EXECUTE FUNCTION dossier.refuse_change();

-- Appending. Advisory lock keys (two-int form, first int names the kind of lock):
--   1147 stream lock (transaction), second int = hashtext(stream)
--   1148 global position lock (transaction): taken to assign positions, held until commit
--   1149 bulk import barrier: appends share it, an import takes it exclusively
--   1150 jurisdiction quota lock (transaction), second int = hashtext(jurisdiction)
--
-- append_to_stream appends events to one stream, atomically, and returns one row per event.
--   p_expected: -1 any version, 0 the stream must not exist yet, n the stream must be at version n.
-- When every event is already recorded under its idempotency key with the same content, the
-- original rows come back with duplicate = true and nothing is written.
-- Errors: DS002 wrong expected version (DETAIL holds the actual version), DS003 a different
-- decision is already recorded under the same idempotency key (DETAIL holds its event id).
CREATE FUNCTION dossier.append_to_stream(
    p_stream text,
    p_expected integer,
    p_event_ids uuid[],
    p_types text[],
    p_schema_versions smallint[],
    p_payloads jsonb[],
    p_effective date[],
    p_recorded_by text,
    p_authorities text[],
    p_references text[])
RETURNS TABLE (o_position bigint, o_version integer, o_event_id uuid, o_recorded_at timestamptz, o_duplicate boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n integer := cardinality(p_event_ids);
    v_current integer;
    v_base bigint;
    v_now timestamptz;
    v_duplicates integer := 0;
    v_existing record;
    i integer;
BEGIN
    IF n IS NULL OR n = 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'append_to_stream needs at least one event';
    END IF;
    IF cardinality(p_types) <> n OR cardinality(p_schema_versions) <> n OR cardinality(p_payloads) <> n
        OR cardinality(p_effective) <> n OR cardinality(p_authorities) <> n OR cardinality(p_references) <> n THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'append_to_stream arrays differ in length';
    END IF;

    PERFORM pg_advisory_xact_lock_shared(1149, 0);
    PERFORM pg_advisory_xact_lock(1147, hashtext(p_stream));

    -- Idempotency: same key and same content is a retry; same key, other content a conflict.
    FOR i IN 1..n LOOP
        SELECT e.position, e.version, e.event_id, e.recorded_at, e.payload, e.effective, e.authority
          INTO v_existing
          FROM dossier.events e
         WHERE e.stream = p_stream AND e.event_type = p_types[i] AND e.reference = p_references[i];
        IF FOUND THEN
            -- The personal-data digest (fresh salt each time) and the exceptions judged at
            -- recording are not part of what the decision says.
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
        RETURN QUERY
            SELECT e.position, e.version, e.event_id, e.recorded_at, true
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

    -- Positions are taken under one lock held until commit, so they become visible in order.
    PERFORM pg_advisory_xact_lock(1148, 0);
    v_base := nextval('dossier.event_position');
    IF n > 1 THEN
        PERFORM setval('dossier.event_position', v_base + n - 1);
    END IF;
    v_now := clock_timestamp();
    PERFORM set_config('dossier.appending', 'on', true);
    INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version,
                                payload, effective, recorded_at, recorded_by, authority, reference)
    SELECT v_base + k.ord - 1, p_stream, v_current + k.ord::integer, k.id, k.t, k.sv, k.p, k.eff,
           v_now, p_recorded_by, k.a, k.r
      FROM unnest(p_event_ids, p_types, p_schema_versions, p_payloads, p_effective, p_authorities,
                  p_references) WITH ORDINALITY AS k(id, t, sv, p, eff, a, r, ord);
    PERFORM set_config('dossier.appending', 'off', true);

    RETURN QUERY
        SELECT v_base + k.ord - 1, v_current + k.ord::integer, k.id, v_now, false
          FROM unnest(p_event_ids) WITH ORDINALITY AS k(id, ord);
END
$fn$;
ALTER FUNCTION dossier.append_to_stream(text, integer, uuid[], text[], smallint[], jsonb[], date[], text,
    text[], text[]) OWNER TO dossier_owner;
GRANT EXECUTE ON FUNCTION dossier.append_to_stream(text, integer, uuid[], text[], smallint[], jsonb[], date[],
    text, text[], text[]) TO dossier_writer;

-- append_batch appends, in one transaction, the events staged in the caller's temporary table
-- pg_temp.dossier_staged_events (see the store's bulk import), across many streams. It takes the
-- import barrier exclusively, so no single append runs beside it; versions must continue each
-- stream exactly, and no idempotency key may be taken already.
-- Returns the first position and the number of events appended.
CREATE FUNCTION dossier.append_batch(p_recorded_by text)
RETURNS TABLE (o_first_position bigint, o_count bigint, o_recorded_at timestamptz)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_count bigint;
    v_base bigint;
    v_now timestamptz;
    v_bad record;
BEGIN
    PERFORM pg_advisory_xact_lock(1149, 0);
    SELECT count(*) INTO v_count FROM pg_temp.dossier_staged_events;
    IF v_count = 0 THEN
        RETURN QUERY SELECT NULL::bigint, 0::bigint, NULL::timestamptz;
        RETURN;
    END IF;

    -- Each stream's staged versions must run on from its current version without a hole.
    SELECT s.stream, coalesce(c.current, 0) AS current, min(s.version) AS first, max(s.version) AS last,
           count(*) AS n
      INTO v_bad
      FROM pg_temp.dossier_staged_events s
      LEFT JOIN LATERAL (SELECT max(e.version) AS current FROM dossier.events e WHERE e.stream = s.stream) c ON true
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
      FROM pg_temp.dossier_staged_events s
      JOIN dossier.events e ON e.stream = s.stream AND e.event_type = s.event_type AND e.reference = s.reference
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'DS003',
            MESSAGE = 'a staged decision is already recorded under its idempotency key',
            DETAIL = v_bad.event_id::text,
            HINT = v_bad.stream;
    END IF;

    PERFORM pg_advisory_xact_lock(1148, 0);
    v_base := nextval('dossier.event_position');
    IF v_count > 1 THEN
        PERFORM setval('dossier.event_position', v_base + v_count - 1);
    END IF;
    v_now := clock_timestamp();
    PERFORM set_config('dossier.appending', 'on', true);
    INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version,
                                payload, effective, recorded_at, recorded_by, authority, reference)
    SELECT v_base + row_number() OVER (ORDER BY s.ord) - 1, s.stream, s.version, s.event_id, s.event_type,
           s.schema_version, s.payload, s.effective, v_now, p_recorded_by, s.authority, s.reference
      FROM pg_temp.dossier_staged_events s
     ORDER BY s.ord;
    PERFORM set_config('dossier.appending', 'off', true);
    RETURN QUERY SELECT v_base, v_count, v_now;
END
$fn$;
ALTER FUNCTION dossier.append_batch(text) OWNER TO dossier_owner;
GRANT EXECUTE ON FUNCTION dossier.append_batch(text) TO dossier_writer;

GRANT SELECT, INSERT ON dossier.events TO dossier_writer;
GRANT USAGE, UPDATE ON SEQUENCE dossier.event_position TO dossier_writer;
GRANT SELECT ON dossier.events TO dossier_reader;
GRANT SELECT, INSERT ON dossier.personal_data TO dossier_writer;
GRANT UPDATE (fields, salt, erased_at, erased_by, erasure_reference) ON dossier.personal_data TO dossier_writer;
