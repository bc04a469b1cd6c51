-- The role the server serves with (docker-compose.yml): it reads and writes the data and never
-- changes the schema. The `migrate` service grants it what it needs, as the schema's owner,
-- after applying the migrations. PostgreSQL's image runs this once, when it first creates the
-- database; the password is for a local throwaway database only.
CREATE ROLE icash_app LOGIN PASSWORD 'icash_app';
