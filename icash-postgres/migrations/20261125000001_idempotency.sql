-- Idempotency keys of purchases: a till's retry with the same key gets the first answer back.
--
-- A key is claimed in the same transaction that records its purchase, so a key without its
-- purchase, or a purchase recorded twice under one key, is never visible. A request racing one
-- in flight with the same key waits on the primary key until the first commits or rolls back.
CREATE TABLE idempotency_keys (
    key text PRIMARY KEY,
    -- What the request asked for (NewPurchase::fingerprint): a repeat must ask the same.
    fingerprint text NOT NULL,
    -- Set in the claiming transaction, once the purchase has its id.
    purchase_id bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_purchase_fkey FOREIGN KEY (purchase_id) REFERENCES purchases (id) ON DELETE CASCADE,
    CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255)
);

-- Purging expired keys.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
