-- 0004: tamper evidence. An RFC 6962 Merkle tree over the log in global order, kept
-- incrementally by `dossier checkpoint`, and the signed checkpoints of its head.
--
-- These tables are append-only like the log. They are a convenience for proofs and for naming
-- the place of a mismatch: `dossier verify` recomputes everything from the events and trusts
-- only the signatures.

-- Leaf i of the tree: the i-th event in position order (leaf indexes are dense even where an
-- aborted append left a gap in positions).
CREATE TABLE dossier.merkle_leaves (
    leaf_index  bigint NOT NULL PRIMARY KEY,
    position    bigint NOT NULL UNIQUE,
    event_id    uuid   NOT NULL,
    leaf_hash   bytea  NOT NULL CHECK (length(leaf_hash) = 32)
);
ALTER TABLE dossier.merkle_leaves OWNER TO dossier_owner;

-- The hashes of complete subtrees of 2^level leaves (level 8 and up), node_index-th from the left,
-- so proofs never rehash more than 255 leaves.
CREATE TABLE dossier.merkle_nodes (
    level       smallint NOT NULL CHECK (level BETWEEN 8 AND 62),
    node_index  bigint   NOT NULL,
    hash        bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, node_index)
);
ALTER TABLE dossier.merkle_nodes OWNER TO dossier_owner;

-- Signed tree heads, in the checkpoint format of transparency logs. `frontier` holds the roots
-- of the perfect subtrees along the right edge, from which the next checkpoint continues.
CREATE TABLE dossier.checkpoints (
    tree_size   bigint      NOT NULL PRIMARY KEY,
    root        bytea       NOT NULL CHECK (length(root) = 32),
    signed_at   timestamptz NOT NULL,
    key_name    text        NOT NULL,
    note        text        NOT NULL,
    frontier    bytea[]     NOT NULL
);
ALTER TABLE dossier.checkpoints OWNER TO dossier_owner;

-- Public keys that have signed checkpoints (auditors should keep their own copy).
CREATE TABLE dossier.signing_keys (
    key_text    text        NOT NULL PRIMARY KEY,
    first_used  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE dossier.signing_keys OWNER TO dossier_owner;

CREATE TRIGGER merkle_leaves_refuse_update_delete BEFORE UPDATE OR DELETE ON dossier.merkle_leaves
    FOR EACH ROW EXECUTE FUNCTION dossier.refuse_change();
CREATE TRIGGER merkle_leaves_refuse_truncate BEFORE TRUNCATE ON dossier.merkle_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION dossier.refuse_change();
CREATE TRIGGER merkle_nodes_refuse_update_delete BEFORE UPDATE OR DELETE ON dossier.merkle_nodes
    FOR EACH ROW EXECUTE FUNCTION dossier.refuse_change();
CREATE TRIGGER merkle_nodes_refuse_truncate BEFORE TRUNCATE ON dossier.merkle_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION dossier.refuse_change();
CREATE TRIGGER checkpoints_refuse_update_delete BEFORE UPDATE OR DELETE ON dossier.checkpoints
    FOR EACH ROW EXECUTE FUNCTION dossier.refuse_change();
CREATE TRIGGER checkpoints_refuse_truncate BEFORE TRUNCATE ON dossier.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION dossier.refuse_change();
CREATE TRIGGER signing_keys_refuse_update_delete BEFORE UPDATE OR DELETE ON dossier.signing_keys
    FOR EACH ROW EXECUTE FUNCTION dossier.refuse_change();

GRANT SELECT, INSERT ON dossier.merkle_leaves, dossier.merkle_nodes, dossier.checkpoints, dossier.signing_keys
    TO dossier_writer;
GRANT SELECT ON dossier.merkle_leaves, dossier.merkle_nodes, dossier.checkpoints, dossier.signing_keys
    TO dossier_reader;
