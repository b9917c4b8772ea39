-- +goose Up
-- Invoices may now pay for investments, revenue, sponsor bids and passes
-- (the same set as the investments migration, whichever runs first).
ALTER TABLE invoices DROP CONSTRAINT invoices_purpose_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_purpose_check CHECK (purpose IN ('donation', 'investment', 'revenue', 'bid', 'pass'));

-- An offering's sponsorship terms, set by its owner.
CREATE TABLE sponsorship_settings (
    offering_id  BIGINT  PRIMARY KEY REFERENCES offerings (id),
    enabled      BOOLEAN NOT NULL,
    slots        INTEGER NOT NULL CHECK (slots BETWEEN 1 AND 10),
    period       TEXT    NOT NULL CHECK (period IN ('hour', 'day', 'week', 'month')),
    reserve_msat BIGINT  NOT NULL CHECK (reserve_msat >= 0),
    weights_bps  TEXT    NOT NULL, -- JSON array, one per slot
    open_periods INTEGER NOT NULL CHECK (open_periods BETWEEN 1 AND 52),
    updated_at   TIMESTAMPTZ NOT NULL
);

-- A sponsor's bid for one period of one offering. amount_msat is what has
-- been paid so far (it grows with raises); settled_at is when that amount
-- was complete, for ties.
CREATE TABLE sponsor_bids (
    id              BIGSERIAL PRIMARY KEY,
    public_id       TEXT    NOT NULL UNIQUE,
    offering_id     BIGINT  NOT NULL REFERENCES offerings (id),
    period_start    TIMESTAMPTZ NOT NULL,
    period_end      TIMESTAMPTZ NOT NULL,
    claim_key_hash  TEXT    NOT NULL,
    amount_msat     BIGINT  NOT NULL DEFAULT 0 CHECK (amount_msat >= 0),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'won', 'lost', 'withdrawn', 'rejected', 'unpaid')),
    display_name    TEXT    NOT NULL,
    display_url     TEXT    NOT NULL,
    display_tagline TEXT    NOT NULL DEFAULT '',
    reject_reason   TEXT    NOT NULL DEFAULT '',
    slot            INTEGER,
    charge_msat     BIGINT  NOT NULL DEFAULT 0 CHECK (charge_msat >= 0),
    settled_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    closed_at       TIMESTAMPTZ
);
CREATE INDEX sponsor_bids_period ON sponsor_bids (offering_id, period_start, state);
CREATE INDEX sponsor_bids_due ON sponsor_bids (state, period_start);
CREATE INDEX sponsor_bids_claim ON sponsor_bids (claim_key_hash);

-- Which bid each bid invoice (the first payment and every raise) pays.
CREATE TABLE sponsor_bid_invoices (
    payment_hash TEXT    PRIMARY KEY,
    bid_id       BIGINT  NOT NULL REFERENCES sponsor_bids (id),
    amount_msat  BIGINT  NOT NULL CHECK (amount_msat > 0),
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sponsor_bid_invoices_bid ON sponsor_bid_invoices (bid_id);

-- A cleared period: its published record. The unique pair is what makes
-- clearing happen once.
CREATE TABLE sponsor_periods (
    id           BIGSERIAL PRIMARY KEY,
    offering_id  BIGINT  NOT NULL REFERENCES offerings (id),
    period_start TIMESTAMPTZ NOT NULL,
    period_end   TIMESTAMPTZ NOT NULL,
    record       TEXT    NOT NULL,
    cleared_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (offering_id, period_start)
);
CREATE INDEX sponsor_periods_time ON sponsor_periods (period_start, period_end);

-- +goose Down
DROP TABLE sponsor_periods;
DROP TABLE sponsor_bid_invoices;
DROP TABLE sponsor_bids;
DROP TABLE sponsorship_settings;
