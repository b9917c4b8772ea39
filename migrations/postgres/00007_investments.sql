-- +goose Up
-- An offering's investment round: the terms new investments are made on.
-- Each investment copies share_bps and cap_bps when it is made, so
-- changing the terms never changes an existing investment.
CREATE TABLE investment_terms (
    offering_id      BIGINT  PRIMARY KEY REFERENCES offerings (id),
    share_bps        INTEGER NOT NULL CHECK (share_bps BETWEEN 0 AND 10000),
    cap_bps          INTEGER NOT NULL CHECK (cap_bps BETWEEN 10000 AND 1000000),
    min_msat         BIGINT  NOT NULL CHECK (min_msat > 0),
    max_msat         BIGINT  NOT NULL CHECK (max_msat >= min_msat),
    raise_limit_msat BIGINT  CHECK (raise_limit_msat > 0),
    open             BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- One investment: made (pending) when its invoice is issued, active when
-- the invoice settles, capped once its returns reach cap_msat. The claim
-- key is the investor's only credential; only its SHA-256 is kept.
CREATE TABLE investments (
    id                    BIGSERIAL PRIMARY KEY,
    offering_id           BIGINT  NOT NULL REFERENCES offerings (id),
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
    expires_at            TIMESTAMPTZ NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    activated_at          TIMESTAMPTZ
);
-- The split reads an offering's active investments in tie-break order.
CREATE INDEX investments_split ON investments (offering_id, state, activated_at, id);

-- One revenue event: R msat shared between an offering's investors and
-- its runway, once per key. The transfers it made are keyed <key>/...
CREATE TABLE revenue_events (
    id             BIGSERIAL PRIMARY KEY,
    offering_id    BIGINT  NOT NULL REFERENCES offerings (id),
    key            TEXT    NOT NULL UNIQUE,
    source_account TEXT    NOT NULL,
    amount_msat    BIGINT  NOT NULL CHECK (amount_msat > 0),
    investors_msat BIGINT  NOT NULL CHECK (investors_msat >= 0),
    runway_msat    BIGINT  NOT NULL CHECK (runway_msat >= 0),
    investments    INTEGER NOT NULL DEFAULT 0,
    memo           TEXT    NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    CHECK (investors_msat + runway_msat = amount_msat)
);
CREATE INDEX revenue_events_offering ON revenue_events (offering_id, id);

-- One-time LNURL-withdraw links (LUD-03) for an investment's returns.
CREATE TABLE investment_withdraw_links (
    id            BIGSERIAL PRIMARY KEY,
    k1_hash       TEXT    NOT NULL UNIQUE,
    investment_id BIGINT  NOT NULL REFERENCES investments (id),
    payment_hash  TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    used_at       TIMESTAMPTZ
);

-- An investor's withdrawals are the payouts from its payable account.
CREATE INDEX payouts_source ON payouts (source_account, id);

-- Invoices now also pay for investments and revenue events (and, for the
-- sponsorship and time-pass work, bids and passes).
ALTER TABLE invoices DROP CONSTRAINT invoices_purpose_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_purpose_check CHECK (purpose IN ('donation', 'investment', 'revenue', 'bid', 'pass'));

-- Webhooks may now announce revenue_distributed (and, for the sponsorship
-- work, sponsorship_started).
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_check CHECK (event IN ('funded', 'runway_low', 'expired', 'revived', 'revenue_distributed', 'sponsorship_started'));

-- +goose Down
DROP INDEX payouts_source;
DROP TABLE investment_withdraw_links;
DROP TABLE revenue_events;
DROP TABLE investments;
DROP TABLE investment_terms;
ALTER TABLE invoices DROP CONSTRAINT invoices_purpose_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_purpose_check CHECK (purpose IN ('donation'));
