-- +goose Up
-- A trigram index on offerings' lower-cased names, so that a search
-- (LOWER(name) LIKE '%term%') reads the offerings that may match instead
-- of every offering. pg_trgm ships with PostgreSQL; where the extension
-- cannot be created (no privilege, a trimmed build) the index is skipped
-- with a notice and searches read every name, as before. The extension
-- goes to the public schema, once per database, so that a schema of its
-- own (tests, benchmarks) never takes it with it when dropped.
-- +goose StatementBegin
DO $$
DECLARE
    ext_schema text;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
    EXCEPTION WHEN OTHERS THEN
        -- No privilege, or another session created it at the same moment
        -- (then it is there now: the check below finds it).
        RAISE NOTICE 'creating pg_trgm: %', SQLERRM;
    END;
    SELECT n.nspname INTO ext_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF ext_schema IS NULL THEN
        RAISE NOTICE 'pg_trgm is not available: searches read every offering';
        RETURN;
    END IF;
    EXECUTE format('CREATE INDEX offerings_name_trgm ON offerings USING gin (lower(name) %I.gin_trgm_ops)', ext_schema);
END $$;
-- +goose StatementEnd

-- +goose Down
DROP INDEX IF EXISTS offerings_name_trgm;
