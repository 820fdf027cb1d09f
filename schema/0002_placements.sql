-- 0002: where each worker served and when, kept in the same transaction as every append to the
-- worker's stream, so hires and transfers can check the jurisdiction's quota under a lock.
--
-- A projection, not the truth: `dossier rebuild placements` recomputes it from the log.
CREATE TABLE dossier.placements (
    worker      text    NOT NULL,
    span        integer NOT NULL,
    city        text    NOT NULL,
    district    text    NOT NULL,
    street      text    NOT NULL,
    community   text    NOT NULL,
    from_date   date    NOT NULL,
    until_date  date,
    CONSTRAINT placements_pkey PRIMARY KEY (worker, span),
    CONSTRAINT placements_dates CHECK (until_date IS NULL OR until_date > from_date)
);
ALTER TABLE dossier.placements OWNER TO dossier_owner;
CREATE INDEX placements_jurisdiction ON dossier.placements (city, district);
COMMENT ON TABLE dossier.placements IS
    'Placement spans per worker (a projection kept in the append transaction, for quota checks).';
GRANT SELECT, INSERT, DELETE ON dossier.placements TO dossier_writer;
GRANT SELECT ON dossier.placements TO dossier_reader;

-- The policy and jurisdiction streams are read whole by every decision's judgement.
CREATE INDEX events_reference_streams ON dossier.events (position)
    WHERE stream = 'policy' OR stream LIKE 'jurisdiction/%';
