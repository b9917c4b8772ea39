-- +goose Up
-- The home page lists offerings alive longest first, never-funded ones
-- last. Read from this index, its first page costs the same among a
-- hundred thousand offerings as among ten (a sort of every row before).
CREATE INDEX offerings_listed ON offerings (funded_until DESC NULLS LAST, id DESC);

-- Transfers are read back by key prefix (the parts of one revenue event,
-- keyed <event>/…) as a range, key >= prefix AND key < the prefix's
-- successor. Keys are ASCII identifiers compared byte by byte: in the C
-- collation the unique index on key serves that range (in the database's
-- default collation punctuation is ignored at first and the range is
-- neither exact nor index-served; each read scanned every transfer). The
-- index is rebuilt in the new collation, not duplicated: one index write
-- per posting, as before.
ALTER TABLE transfers ALTER COLUMN key TYPE TEXT COLLATE "C";

-- The accrual job looks every minute for alive offerings without today's
-- consumption line. Without this index PostgreSQL probed the primary key
-- once per alive offering (0.38 s at 80,000 of them, every minute, on
-- every page's CPU); with it, today's lines are read at once (0.05 s).
CREATE INDEX consumption_days_day ON consumption_days (day, offering_id);

-- +goose Down
DROP INDEX consumption_days_day;
ALTER TABLE transfers ALTER COLUMN key TYPE TEXT COLLATE "default";
DROP INDEX offerings_listed;
