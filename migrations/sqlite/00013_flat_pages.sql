-- +goose Up
-- The home page lists offerings alive longest first, never-funded ones
-- last (NULLs sort last under DESC in SQLite). Read from this index, its
-- first page costs the same among many offerings as among ten.
CREATE INDEX offerings_listed ON offerings (funded_until DESC, id DESC);

-- (PostgreSQL adds transfers_key_prefix here, for LIKE 'prefix%' on
-- transfers.key; SQLite's LIKE is case-insensitive and is not served by
-- an index on key either way.)

-- +goose Down
DROP INDEX offerings_listed;
