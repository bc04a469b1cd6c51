-- A branch's name and business day: the IANA zone its clocks follow and the time of day its
-- business day starts.
--
-- The zone is kept as its IANA name and checked by the domain (chrono-tz) on the way in; the
-- store converts between local dates and instants in Rust, so PostgreSQL's own zone database
-- never has to agree with it. Branches that exist when this runs keep what their purchases were
-- read with: UTC, from midnight, named by their codes.

ALTER TABLE branches
    ADD COLUMN name text,
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC',
    ADD COLUMN day_starts_at time(0) NOT NULL DEFAULT '00:00';

UPDATE branches SET name = 'SMKT' || lpad(id::text, greatest(3, length(id::text)), '0');

ALTER TABLE branches
    ALTER COLUMN name SET NOT NULL,
    ADD CONSTRAINT branches_name_length CHECK (btrim(name) <> '' AND char_length(name) <= 100),
    ADD CONSTRAINT branches_time_zone_not_blank CHECK (btrim(time_zone) <> ''),
    ADD CONSTRAINT branches_day_starts_at_whole_minute CHECK (extract(second FROM day_starts_at) = 0);
