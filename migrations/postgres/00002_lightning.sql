-- +goose Up
-- Every invoice the site issues. The node is the truth about payment; this
-- row says what the payment is for.
CREATE TABLE invoices (
    id              BIGSERIAL PRIMARY KEY,
    payment_hash    TEXT    NOT NULL UNIQUE,
    payment_request TEXT    NOT NULL,
    purpose         TEXT    NOT NULL CHECK (purpose IN ('donation')),
    offering_id     BIGINT  NOT NULL REFERENCES offerings (id),
    amount_msat     BIGINT  NOT NULL CHECK (amount_msat > 0),
    paid_msat       BIGINT  NOT NULL DEFAULT 0 CHECK (paid_msat >= 0),
    state           TEXT    NOT NULL CHECK (state IN ('open', 'settled', 'canceled')),
    payer_name      TEXT    NOT NULL DEFAULT '',
    payer_message   TEXT    NOT NULL DEFAULT '',
    public          BOOLEAN NOT NULL DEFAULT FALSE,
    via             TEXT    NOT NULL DEFAULT 'web',
    settle_index    BIGINT,
    expires_at      TIMESTAMPTZ NOT NULL,
    settled_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX invoices_offering ON invoices (offering_id, settled_at);
CREATE INDEX invoices_open ON invoices (state, expires_at);

-- Where the settlement stream resumes: the highest settle index credited.
CREATE TABLE lightning_cursors (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

-- Every payment the site sends. Recorded, with its ledger reservation,
-- before it is sent; finished from what the node says, also after a crash.
CREATE TABLE payouts (
    id              BIGSERIAL PRIMARY KEY,
    payment_hash    TEXT    NOT NULL UNIQUE,
    payment_request TEXT    NOT NULL,
    source_account  TEXT    NOT NULL,
    offering_id     BIGINT  REFERENCES offerings (id),
    destination     TEXT    NOT NULL,
    amount_msat     BIGINT  NOT NULL CHECK (amount_msat > 0),
    fee_limit_msat  BIGINT  NOT NULL CHECK (fee_limit_msat >= 0),
    fee_msat        BIGINT  NOT NULL DEFAULT 0 CHECK (fee_msat >= 0),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    failure_reason  TEXT    NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ
);
CREATE INDEX payouts_pending ON payouts (state);
CREATE INDEX payouts_offering ON payouts (offering_id, id);

-- One-time LNURL-withdraw links (LUD-03): whoever presents the k1 with an
-- invoice is paid the offering's earned balance, once. Only a hash of the
-- k1 is kept.
CREATE TABLE lnurl_withdrawals (
    id           BIGSERIAL PRIMARY KEY,
    k1_hash      TEXT    NOT NULL UNIQUE,
    offering_id  BIGINT  NOT NULL REFERENCES offerings (id),
    payment_hash TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ
);

-- LNURL-auth (LUD-04) challenges: a k1 to sign, to link a wallet to an
-- offering or to sign in with a linked wallet.
CREATE TABLE lnurl_auth_challenges (
    id          BIGSERIAL PRIMARY KEY,
    k1_hash     TEXT    NOT NULL UNIQUE,
    action      TEXT    NOT NULL CHECK (action IN ('login', 'link')),
    offering_id BIGINT  REFERENCES offerings (id),
    linking_key TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    signed_at   TIMESTAMPTZ,
    used_at     TIMESTAMPTZ
);

-- Wallet keys linked to an offering: each can sign its owner in.
CREATE TABLE wallet_keys (
    id          BIGSERIAL PRIMARY KEY,
    offering_id BIGINT  NOT NULL REFERENCES offerings (id),
    linking_key TEXT    NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (offering_id, linking_key)
);
CREATE INDEX wallet_keys_key ON wallet_keys (linking_key);

-- +goose Down
DROP TABLE wallet_keys;
DROP TABLE lnurl_auth_challenges;
DROP TABLE lnurl_withdrawals;
DROP TABLE payouts;
DROP TABLE lightning_cursors;
DROP TABLE invoices;
