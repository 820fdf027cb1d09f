-- 0017: judging from state (issue 16).
--
-- Worker snapshots. Recording a decision judged it on the worker's whole stream: every event
-- read, decoded and folded twice. The projector now keeps, beside the read model, each worker
-- stream's fold as it stands (Sources/DossierDomain/State/WorkerStateSnapshot.swift): the state after
-- the last decision, the versions it was folded at (the stream's, and the policy stream's, since
-- the state depends on the policy in force), and what the rules read of the history besides. A writer reads the row in the round trip that takes the
-- stream's lock and uses it only when both versions are the current ones; else it judges from
-- the stream, as before. The log stays the truth: a snapshot is a projection, rebuilt by
-- `dossier rebuild`, written by the projector only (a writer that could write one could bend
-- other writers' verdicts), read by writers and readers.
CREATE TABLE dossier_read.worker_snapshots (
    stream text PRIMARY KEY,
    version integer NOT NULL,
    policy_version integer NOT NULL,
    format integer NOT NULL,
    state jsonb NOT NULL
);
COMMENT ON TABLE dossier_read.worker_snapshots IS
    'Each worker stream folded at a version (a projection: used by writers only at the stream''s and the policy stream''s current versions).';
ALTER TABLE dossier_read.worker_snapshots OWNER TO dossier_owner;
REVOKE ALL ON dossier_read.worker_snapshots FROM PUBLIC;
GRANT SELECT ON dossier_read.worker_snapshots TO dossier_reader, dossier_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON dossier_read.worker_snapshots TO dossier_projector;

-- The shape check (event_problem, 0006 and its patches) joins a decision's fields to the table
-- of field rules. Planned generically, each of its joins built a hash table of the whole rules
-- table at every call: 0.28 ms of a single decision's 0.7 ms inside append_to_stream. With hash
-- and merge joins off for this function only, the joins probe the rules' primary keys instead
-- (0.22 ms a call; same answers, the query is unchanged).
ALTER FUNCTION dossier.event_problem(text[], text[], jsonb[], date[], text[], text[], smallint[], boolean)
    SET enable_hashjoin = off;
ALTER FUNCTION dossier.event_problem(text[], text[], jsonb[], date[], text[], text[], smallint[], boolean)
    SET enable_mergejoin = off;
