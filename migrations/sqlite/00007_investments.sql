-- +goose Up
-- An offering's investment round: the terms new investments are made on.
-- Each investment copies share_bps and cap_bps when it is made, so
-- changing the terms never changes an existing investment.
CREATE TABLE investment_terms (
    offering_id      INTEGER PRIMARY KEY REFERENCES offerings (id),
    share_bps        INTEGER NOT NULL CHECK (share_bps BETWEEN 0 AND 10000),
    cap_bps          INTEGER NOT NULL CHECK (cap_bps BETWEEN 10000 AND 1000000),
    min_msat         BIGINT  NOT NULL CHECK (min_msat > 0),
    max_msat         BIGINT  NOT NULL CHECK (max_msat >= min_msat),
    raise_limit_msat BIGINT  CHECK (raise_limit_msat > 0),
    open             BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at       TIMESTAMP NOT NULL
);

-- One investment: made (pending) when its invoice is issued, active when
-- the invoice settles, capped once its returns reach cap_msat. The claim
-- key is the investor's only credential; only its SHA-256 is kept.
CREATE TABLE investments (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    offering_id           INTEGER NOT NULL REFERENCES offerings (id),
    claim_key_hash        TEXT    NOT NULL UNIQUE,
    payment_hash          TEXT    NOT NULL UNIQUE,
    state                 TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'capped')),
    principal_msat        BIGINT  NOT NULL CHECK (principal_msat > 0),
    share_bps             INTEGER NOT NULL CHECK (share_bps BETWEEN 0 AND 10000),
    cap_bps               INTEGER NOT NULL CHECK (cap_bps BETWEEN 10000 AND 1000000),
    cap_msat              BIGINT  NOT NULL CHECK (cap_msat >= 0),
    returned_msat         BIGINT  NOT NULL DEFAULT 0 CHECK (returned_msat >= 0 AND returned_msat <= cap_msat),
    name                  TEXT    NOT NULL DEFAULT '',
    public                BOOLEAN NOT NULL DEFAULT FALSE,
    payout_destination    TEXT    NOT NULL DEFAULT '',
    payout_threshold_msat BIGINT  NOT NULL DEFAULT 0 CHECK (payout_threshold_msat >= 0),
    expires_at            TIMESTAMP NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    activated_at          TIMESTAMP
);
-- The split reads an offering's active investments in tie-break order.
CREATE INDEX investments_split ON investments (offering_id, state, activated_at, id);

-- One revenue event: R msat shared between an offering's investors and
-- its runway, once per key. The transfers it made are keyed <key>/...
CREATE TABLE revenue_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    offering_id    INTEGER NOT NULL REFERENCES offerings (id),
    key            TEXT    NOT NULL UNIQUE,
    source_account TEXT    NOT NULL,
    amount_msat    BIGINT  NOT NULL CHECK (amount_msat > 0),
    investors_msat BIGINT  NOT NULL CHECK (investors_msat >= 0),
    runway_msat    BIGINT  NOT NULL CHECK (runway_msat >= 0),
    investments    INTEGER NOT NULL DEFAULT 0,
    memo           TEXT    NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL,
    CHECK (investors_msat + runway_msat = amount_msat)
);
CREATE INDEX revenue_events_offering ON revenue_events (offering_id, id);

-- One-time LNURL-withdraw links (LUD-03) for an investment's returns.
CREATE TABLE investment_withdraw_links (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    k1_hash       TEXT    NOT NULL UNIQUE,
    investment_id INTEGER NOT NULL REFERENCES investments (id),
    payment_hash  TEXT,
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    used_at       TIMESTAMP
);

-- An investor's withdrawals are the payouts from its payable account.
CREATE INDEX payouts_source ON payouts (source_account, id);

-- Invoices now also pay for investments and revenue events (and, for the
-- sponsorship and time-pass work, bids and passes). SQLite cannot alter a
-- CHECK constraint: the table is rebuilt with the same columns.
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

-- Webhooks may now announce revenue_distributed (and, for the sponsorship
-- work, sponsorship_started). The rebuild keeps webhook_attempts' rows
-- pointing at their deliveries: foreign keys are checked at commit.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE webhook_deliveries_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id          TEXT    NOT NULL UNIQUE,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id),
    event           TEXT    NOT NULL CHECK (event IN ('funded', 'runway_low', 'expired', 'revived', 'revenue_distributed', 'sponsorship_started')),
    event_key       TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    delivered_at    TIMESTAMP,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    UNIQUE (webhook_id, event_key)
);
INSERT INTO webhook_deliveries_new SELECT id, msg_id, webhook_id, event, event_key, payload, state, attempts,
    next_attempt_at, delivered_at, last_status, last_error, created_at FROM webhook_deliveries;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

-- +goose Down
DROP INDEX payouts_source;
DROP TABLE investment_withdraw_links;
DROP TABLE revenue_events;
DROP TABLE investments;
DROP TABLE investment_terms;
