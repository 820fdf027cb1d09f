-- 0009: checkpoints sign where every stream ends.
--
-- A checkpoint signed only the log's root, so a bundle with its last events removed still
-- verified: nothing signed the length of a stream. From now on a checkpoint also signs the root
-- of a second RFC 6962 tree over the head of every stream (its last version and that event's
-- leaf index), and a bundle proves its stream's head is in it (docs/INTEGRITY.md §3, §6).
--
-- `merkle_heads` keeps, for each checkpoint, the heads that changed since the one before: the
-- heads at size N are, per stream, the row of the largest tree_size <= N. Like the other tree
-- tables it is append-only, only the admin (who checkpoints) may insert, and nothing in it is
-- trusted: `dossier verify` recomputes every head from the events.

CREATE TABLE dossier.merkle_heads (
    tree_size   bigint  NOT NULL CHECK (tree_size >= 1),
    stream      text    NOT NULL,
    version     integer NOT NULL CHECK (version >= 1),
    leaf_index  bigint  NOT NULL CHECK (leaf_index >= 0 AND leaf_index < tree_size),
    PRIMARY KEY (stream, tree_size)
);
ALTER TABLE dossier.merkle_heads OWNER TO dossier_owner;
CREATE INDEX merkle_heads_by_size ON dossier.merkle_heads (tree_size);

CREATE TRIGGER merkle_heads_refuse_update_delete BEFORE UPDATE OR DELETE ON dossier.merkle_heads
    FOR EACH ROW EXECUTE FUNCTION dossier.refuse_change();
CREATE TRIGGER merkle_heads_refuse_truncate BEFORE TRUNCATE ON dossier.merkle_heads
    FOR EACH STATEMENT EXECUTE FUNCTION dossier.refuse_change();

GRANT SELECT ON dossier.merkle_heads TO dossier_reader;
GRANT INSERT ON dossier.merkle_heads TO dossier_admin;

-- A ledger checkpointed before this migration has a latest checkpoint without heads. Its next
-- checkpoint may be of the same size (nothing recorded since), signed again with heads: a size is
-- then signed twice, with one root. The key is the size and the time of signing.
ALTER TABLE dossier.checkpoints DROP CONSTRAINT checkpoints_pkey;
ALTER TABLE dossier.checkpoints ADD PRIMARY KEY (tree_size, signed_at);
