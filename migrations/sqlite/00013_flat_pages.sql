-- +goose Up
-- The home page lists offerings alive longest first, never-funded ones
-- last (NULLs sort last under DESC in SQLite). Read from this index, its
-- first page costs the same among many offerings as among ten.
CREATE INDEX offerings_listed ON offerings (funded_until DESC, id DESC);

-- (PostgreSQL moves transfers.key to the C collation here, so that its
-- unique index serves reads by key prefix, written as a range; SQLite
-- compares text byte by byte already and its unique index serves them.)

-- The accrual job looks every minute for alive offerings without today's
-- consumption line. Without this index PostgreSQL probed the primary key
-- once per alive offering (0.38 s at 80,000 of them, every minute, on
-- every page's CPU); with it, today's lines are read at once (0.05 s).
CREATE INDEX consumption_days_day ON consumption_days (day, offering_id);

-- +goose Down
DROP INDEX consumption_days_day;
DROP INDEX offerings_listed;
