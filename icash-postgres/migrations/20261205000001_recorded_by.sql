-- Who recorded each purchase, and idempotency keys scoped to their sender.
--
-- `recorded_by` is the name of the key that made the purchase (names are never reused, so it
-- names the key for good); NULL for purchases loaded from files or made without
-- authentication. It is copied rather than referenced, as the audit trail's author is: a host
-- may authenticate with its own identity system, whose keys are not rows of api_keys.
ALTER TABLE purchases ADD COLUMN recorded_by text;

-- An idempotency key belongs to the key that sent it (`scope`, the sender's key name; empty
-- without authentication): two tills that send the same value never collide.
ALTER TABLE idempotency_keys ADD COLUMN scope text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, key);
