-- 0003: the read side. Projections of the log, kept by the projection runner (dossier project,
-- and every query before it answers) and rebuilt from the log by `dossier rebuild`.
--
-- The tables belong to dossier_writer, which rebuilds them into fresh tables and swaps them in;
-- the documented views are for auditors reading with plain SQL as dossier_reader.
CREATE SCHEMA dossier_read AUTHORIZATION dossier_owner;
GRANT USAGE, CREATE ON SCHEMA dossier_read TO dossier_writer;
GRANT USAGE ON SCHEMA dossier_read TO dossier_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE dossier_writer IN SCHEMA dossier_read GRANT SELECT ON TABLES TO dossier_reader;

SET LOCAL ROLE dossier_writer;

-- The last global position each projection has applied, written in the same transaction as
-- the projection's rows.
CREATE TABLE dossier_read.checkpoints (
    projection  text        PRIMARY KEY,
    position    bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO dossier_read.checkpoints (projection, position)
VALUES ('timeline', 0), ('audit', 0), ('assessments', 0), ('levels', 0), ('assignments', 0), ('quotas', 0);

-- Each worker's record in periods of valid time (valid_from .. valid_until), as known over
-- transaction time (recorded_from .. recorded_until; NULL means as known now). A new decision
-- closes the periods it changes and adds the new ones, so any date can be read as it was known
-- at any time.
CREATE TABLE dossier_read.worker_timeline (
    worker              text        NOT NULL,
    valid_from          date        NOT NULL,
    valid_until         date,
    recorded_from       timestamptz NOT NULL,
    recorded_until      timestamptz,
    status              text        NOT NULL,
    exit_kind           text,
    post                text,
    role                text,
    level               integer,
    community           text,
    street              text,
    district            text,
    city                text,
    establishment       text        NOT NULL,
    service_start       date,
    monthly_subsidy     integer     NOT NULL,
    level_up            boolean     NOT NULL,
    level_up_reason     text        NOT NULL,
    public_institution  boolean     NOT NULL,
    public_institution_reason text  NOT NULL,
    exit_review         boolean     NOT NULL,
    exit_review_reason  text        NOT NULL
);
CREATE INDEX worker_timeline_worker ON dossier_read.worker_timeline (worker, valid_from);
CREATE INDEX worker_timeline_place ON dossier_read.worker_timeline (city, district, valid_from);

-- One row per event: who, when, on whose authority, and what later decisions did to it.
CREATE TABLE dossier_read.audit_trail (
    position        bigint      PRIMARY KEY,
    event_id        uuid        NOT NULL,
    stream          text        NOT NULL,
    decision        text        NOT NULL,
    effective       date        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    recorded_by     text        NOT NULL,
    authority       text        NOT NULL,
    reference       text        NOT NULL,
    corrected       boolean     NOT NULL,
    rescinded       boolean     NOT NULL,
    excused         boolean     NOT NULL,
    mitigated       boolean     NOT NULL,
    overturned      boolean     NOT NULL,
    upheld          boolean     NOT NULL,
    corrected_by    uuid[]      NOT NULL,
    rescinded_by    uuid,
    overturned_by   uuid,
    ruled_by        uuid,
    override        text,
    exceptions      text[]      NOT NULL
);
CREATE INDEX audit_trail_stream ON dossier_read.audit_trail (stream, position);

-- Annual assessments and level changes, as now known (corrections applied, rescinded left out).
CREATE TABLE dossier_read.assessments (
    worker      text    NOT NULL,
    year        integer NOT NULL,
    grade       text    NOT NULL,
    effective   date    NOT NULL,
    event_id    uuid    NOT NULL,
    PRIMARY KEY (worker, year)
);
CREATE TABLE dossier_read.level_history (
    worker      text    NOT NULL,
    effective   date    NOT NULL,
    level       integer NOT NULL,
    grounds     text,
    event_id    uuid    NOT NULL
);
CREATE INDEX level_history_worker ON dossier_read.level_history (worker, effective);

-- Secondments of workers and temporary posts of cadres, with when they ended (NULL: not yet).
CREATE TABLE dossier_read.assignments (
    subject     text    NOT NULL,
    kind        text    NOT NULL,
    destination text    NOT NULL,
    level       text,
    community   text,
    since       date    NOT NULL,
    planned_until date  NOT NULL,
    ended       date,
    event_id    uuid    NOT NULL
);
CREATE INDEX assignments_subject ON dossier_read.assignments (subject);

-- Quota of each jurisdiction and year: population × the ratio in force / 10,000.
CREATE TABLE dossier_read.quotas (
    jurisdiction     text    NOT NULL,
    year             integer NOT NULL,
    urban_population integer NOT NULL,
    per_ten_thousand integer NOT NULL,
    quota            integer NOT NULL,
    effective        date    NOT NULL,
    PRIMARY KEY (jurisdiction, year)
);

-- The documented views. Kept in one function so a rebuild can drop and recreate them around
-- the tables it swaps in.
CREATE FUNCTION dossier_read.create_views() RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    CREATE VIEW dossier_read.current_workers AS
        SELECT worker, status, exit_kind, post, role, level, community, street, district, city, establishment,
               service_start, monthly_subsidy, level_up, level_up_reason, public_institution,
               public_institution_reason, exit_review, exit_review_reason
          FROM dossier_read.worker_timeline
         WHERE recorded_until IS NULL AND valid_from <= current_date
           AND (valid_until IS NULL OR valid_until > current_date);
    COMMENT ON VIEW dossier_read.current_workers IS
        'Every worker''s record today, as known now (one row per worker ever hired).';

    CREATE VIEW dossier_read.roster AS
        SELECT city, district, street, community, worker, post, role, level, status
          FROM dossier_read.current_workers WHERE status IN ('active', 'seconded');
    COMMENT ON VIEW dossier_read.roster IS 'Workers on the roster today, by city, district, street and community.';

    CREATE VIEW dossier_read.level_up_candidates AS
        SELECT worker, city, district, community, level, level_up_reason AS reason
          FROM dossier_read.current_workers WHERE level_up;
    COMMENT ON VIEW dossier_read.level_up_candidates IS 'Workers with two consecutive excellent assessments not yet used.';

    CREATE VIEW dossier_read.public_institution_candidates AS
        SELECT worker, city, district, community, public_institution_reason AS reason
          FROM dossier_read.current_workers WHERE public_institution;
    COMMENT ON VIEW dossier_read.public_institution_candidates IS
        'Party secretaries who meet the public-institution rule today.';

    CREATE VIEW dossier_read.exit_review_cases AS
        SELECT worker, city, district, community, exit_review_reason AS reason
          FROM dossier_read.current_workers WHERE exit_review;
    COMMENT ON VIEW dossier_read.exit_review_cases IS
        'Workers up for exit review (incompetent assessments, unexcused major demerits).';

    CREATE VIEW dossier_read.quota_compliance AS
        WITH headcount AS (
            SELECT city || '/' || district AS jurisdiction, count(*) AS headcount FROM dossier_read.roster GROUP BY 1
            UNION ALL
            SELECT city, count(*) FROM dossier_read.roster GROUP BY city),
        latest AS (
            SELECT DISTINCT ON (jurisdiction) jurisdiction, year, urban_population, per_ten_thousand, quota
              FROM dossier_read.quotas
             WHERE year <= extract(year FROM current_date) AND effective <= current_date
             ORDER BY jurisdiction, year DESC)
        SELECT coalesce(l.jurisdiction, h.jurisdiction) AS jurisdiction, l.year, l.urban_population, l.per_ten_thousand,
               l.quota, coalesce(h.headcount, 0) AS headcount, l.quota - coalesce(h.headcount, 0) AS gap
          FROM latest l FULL JOIN headcount h ON h.jurisdiction = l.jurisdiction;
    COMMENT ON VIEW dossier_read.quota_compliance IS
        'Headcount against the quota (18 per 10,000 urban residents, or the ratio in force) per jurisdiction today.';

    CREATE VIEW dossier_read.policy_exceptions AS
        SELECT position, event_id, stream, decision, effective, recorded_at, recorded_by, authority, reference,
               override, exceptions
          FROM dossier_read.audit_trail WHERE override IS NOT NULL;
    COMMENT ON VIEW dossier_read.policy_exceptions IS 'Decisions recorded despite a policy rule, with their justification.';

    CREATE VIEW dossier_read.open_assignments AS
        SELECT * FROM dossier_read.assignments
         WHERE since <= current_date AND (ended IS NULL OR ended > current_date);
    COMMENT ON VIEW dossier_read.open_assignments IS 'Secondments and temporary posts open today.';
END
$fn$;

-- Drops every view of the read side (before swapping in rebuilt tables).
CREATE FUNCTION dossier_read.drop_views() RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT viewname FROM pg_views WHERE schemaname = 'dossier_read' LOOP
        EXECUTE format('DROP VIEW IF EXISTS dossier_read.%I CASCADE', v.viewname);
    END LOOP;
END
$fn$;

SELECT dossier_read.create_views();
RESET ROLE;
GRANT SELECT ON ALL TABLES IN SCHEMA dossier_read TO dossier_reader;
