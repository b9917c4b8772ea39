-- +goose Up
-- The unit the owner gave the running cost in (hour, day or month), so the
-- edit form shows it as it was entered. The rate itself stays msat/hour.
ALTER TABLE offerings ADD COLUMN burn_unit TEXT NOT NULL DEFAULT 'day' CHECK (burn_unit IN ('hour', 'day', 'month'));

-- +goose Down
ALTER TABLE offerings DROP COLUMN burn_unit;
