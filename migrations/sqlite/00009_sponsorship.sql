-- +goose Up
-- Invoices may now pay for investments, revenue, sponsor bids and passes
-- (the same set as the investments migration, whichever runs first). SQLite
-- cannot change a CHECK in place: the table is rebuilt (nothing
-- references it).
CREATE TABLE invoices_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_hash    TEXT    NOT NULL UNIQUE,
    payment_request TEXT    NOT NULL,
    purpose         TEXT    NOT NULL CHECK (purpose IN ('donation', 'investment', 'revenue', 'bid', 'pass')),
    offering_id     INTEGER NOT NULL REFERENCES offerings (id),
    amount_msat     BIGINT  NOT NULL CHECK (amount_msat > 0),
    paid_msat       BIGINT  NOT NULL DEFAULT 0 CHECK (paid_msat >= 0),
    state           TEXT    NOT NULL CHECK (state IN ('open', 'settled', 'canceled')),
    payer_name      TEXT    NOT NULL DEFAULT '',
    payer_message   TEXT    NOT NULL DEFAULT '',
    public          BOOLEAN NOT NULL DEFAULT FALSE,
    via             TEXT    NOT NULL DEFAULT 'web',
    settle_index    BIGINT,
    expires_at      TIMESTAMP NOT NULL,
    settled_at      TIMESTAMP,
    created_at      TIMESTAMP NOT NULL
);
INSERT INTO invoices_new SELECT id, payment_hash, payment_request, purpose, offering_id, amount_msat, paid_msat, state,
    payer_name, payer_message, public, via, settle_index, expires_at, settled_at, created_at FROM invoices;
DROP TABLE invoices;
ALTER TABLE invoices_new RENAME TO invoices;
CREATE INDEX invoices_offering ON invoices (offering_id, settled_at);
CREATE INDEX invoices_open ON invoices (state, expires_at);

-- An offering's sponsorship terms, set by its owner.
CREATE TABLE sponsorship_settings (
    offering_id  INTEGER PRIMARY KEY REFERENCES offerings (id),
    enabled      BOOLEAN NOT NULL,
    slots        INTEGER NOT NULL CHECK (slots BETWEEN 1 AND 10),
    period       TEXT    NOT NULL CHECK (period IN ('hour', 'day', 'week', 'month')),
    reserve_msat BIGINT  NOT NULL CHECK (reserve_msat >= 0),
    weights_bps  TEXT    NOT NULL, -- JSON array, one per slot
    open_periods INTEGER NOT NULL CHECK (open_periods BETWEEN 1 AND 52),
    updated_at   TIMESTAMP NOT NULL
);

-- A sponsor's bid for one period of one offering. amount_msat is what has
-- been paid so far (it grows with raises); settled_at is when that amount
-- was complete, for ties.
CREATE TABLE sponsor_bids (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id       TEXT    NOT NULL UNIQUE,
    offering_id     INTEGER NOT NULL REFERENCES offerings (id),
    period_start    TIMESTAMP NOT NULL,
    period_end      TIMESTAMP NOT NULL,
    claim_key_hash  TEXT    NOT NULL,
    amount_msat     BIGINT  NOT NULL DEFAULT 0 CHECK (amount_msat >= 0),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'won', 'lost', 'withdrawn', 'rejected', 'unpaid')),
    display_name    TEXT    NOT NULL,
    display_url     TEXT    NOT NULL,
    display_tagline TEXT    NOT NULL DEFAULT '',
    reject_reason   TEXT    NOT NULL DEFAULT '',
    slot            INTEGER,
    charge_msat     BIGINT  NOT NULL DEFAULT 0 CHECK (charge_msat >= 0),
    settled_at      TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    closed_at       TIMESTAMP
);
CREATE INDEX sponsor_bids_period ON sponsor_bids (offering_id, period_start, state);
CREATE INDEX sponsor_bids_due ON sponsor_bids (state, period_start);
CREATE INDEX sponsor_bids_claim ON sponsor_bids (claim_key_hash);

-- Which bid each bid invoice (the first payment and every raise) pays.
CREATE TABLE sponsor_bid_invoices (
    payment_hash TEXT    PRIMARY KEY,
    bid_id       INTEGER NOT NULL REFERENCES sponsor_bids (id),
    amount_msat  BIGINT  NOT NULL CHECK (amount_msat > 0),
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX sponsor_bid_invoices_bid ON sponsor_bid_invoices (bid_id);

-- A cleared period: its published record. The unique pair is what makes
-- clearing happen once.
CREATE TABLE sponsor_periods (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    offering_id  INTEGER NOT NULL REFERENCES offerings (id),
    period_start TIMESTAMP NOT NULL,
    period_end   TIMESTAMP NOT NULL,
    record       TEXT    NOT NULL,
    cleared_at   TIMESTAMP NOT NULL,
    UNIQUE (offering_id, period_start)
);
CREATE INDEX sponsor_periods_time ON sponsor_periods (period_start, period_end);

-- +goose Down
DROP TABLE sponsor_periods;
DROP TABLE sponsor_bid_invoices;
DROP TABLE sponsor_bids;
DROP TABLE sponsorship_settings;
