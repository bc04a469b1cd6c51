-- API keys and the audit trail.
--
-- A key is kept as the SHA-256 of its secret, never the secret itself: a copy of this table
-- cannot be replayed as keys. A presented key is found by its hash, through the hash's unique
-- index. A revoked key stays, with the time of its revocation, so that the trail and the
-- receipts that name it keep naming a key that existed; its name is never given to another key.
--
-- The constraints mirror the domain's rules (KeyName, Role::scope) and are named, because the
-- store maps a violated constraint to the error a client sees by its name.
CREATE TABLE api_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    secret_hash bytea NOT NULL,
    role text NOT NULL,
    -- The key's one branch; NULL for every branch.
    branch_id integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT api_keys_name_key UNIQUE (name),
    CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash),
    CONSTRAINT api_keys_branch_fkey FOREIGN KEY (branch_id) REFERENCES branches (id),
    CONSTRAINT api_keys_name_valid CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    CONSTRAINT api_keys_secret_hash_length CHECK (octet_length(secret_hash) = 32),
    CONSTRAINT api_keys_role_valid CHECK (role IN ('till', 'manager', 'analyst', 'admin')),
    -- A till has exactly one branch; an analyst and an admin have every branch; a manager
    -- either.
    CONSTRAINT api_keys_role_branch CHECK (
        (role = 'till' AND branch_id IS NOT NULL)
        OR (role IN ('analyst', 'admin') AND branch_id IS NULL)
        OR role = 'manager'
    )
);

-- Every change that is not a sale, written in the transaction of the change it records: a
-- change without its entry, or an entry for a change that rolled back, is never visible.
--
-- The author is copied (key id and name) rather than referenced: a host may authenticate its
-- actors with its own identity system, whose keys are not rows of api_keys. Both are NULL for
-- a change the system made by itself. The trail is read newest first, a page at a time, along
-- the primary key's index.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor_key_id bigint,
    actor_name text,
    -- The kind's short name (AuditKind::as_str), such as 'key.created'.
    kind text NOT NULL,
    target text NOT NULL,
    details text NOT NULL DEFAULT '',
    client_addr inet,
    CONSTRAINT audit_log_actor_whole CHECK ((actor_key_id IS NULL) = (actor_name IS NULL)),
    CONSTRAINT audit_log_kind_not_blank CHECK (btrim(kind) <> '')
);
