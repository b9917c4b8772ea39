-- +goose Up
-- PostgreSQL's 00016 adds a trigram index for name searches; SQLite has
-- no such index, and a search there reads every name.
SELECT 1;

-- +goose Down
SELECT 1;
