-- +goose Up
-- A period's rules, fixed when its first bid is placed: later changes to
-- the offering's settings apply only to periods without bids, so an owner
-- cannot move the reserve, slots, weights or length under bids already
-- placed. Clearing reads these, not the settings.
CREATE TABLE sponsor_period_terms (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    offering_id  INTEGER NOT NULL REFERENCES offerings (id),
    period_start TIMESTAMP NOT NULL,
    period_end   TIMESTAMP NOT NULL,
    slots        INTEGER NOT NULL CHECK (slots BETWEEN 1 AND 10),
    weights_bps  TEXT    NOT NULL, -- JSON array, one per slot
    reserve_msat BIGINT  NOT NULL CHECK (reserve_msat >= 0),
    fixed_at     TIMESTAMP NOT NULL,
    UNIQUE (offering_id, period_start)
);

-- Periods that already have open bids keep the terms in force now.
INSERT INTO sponsor_period_terms (offering_id, period_start, period_end, slots, weights_bps, reserve_msat, fixed_at)
SELECT b.offering_id, b.period_start, MAX(b.period_end), s.slots, s.weights_bps, s.reserve_msat, MIN(b.created_at)
FROM sponsor_bids b JOIN sponsorship_settings s ON s.offering_id = b.offering_id
WHERE b.state IN ('pending', 'active')
GROUP BY b.offering_id, b.period_start, s.slots, s.weights_bps, s.reserve_msat;

-- +goose Down
DROP TABLE sponsor_period_terms;
