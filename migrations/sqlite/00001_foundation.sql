-- +goose Up
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    allow_negative  BOOLEAN NOT NULL DEFAULT FALSE,
    debits_posted   BIGINT  NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_posted  BIGINT  NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    debits_pending  BIGINT  NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    credits_pending BIGINT  NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    created_at      TIMESTAMP NOT NULL,
    -- No account but the counter account (lightning) spends what it does
    -- not hold; the ledger checks first, this makes it impossible.
    CONSTRAINT accounts_no_overdraft CHECK (allow_negative OR credits_posted - debits_posted - debits_pending >= 0)
);

CREATE TABLE transfers (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    key               TEXT    NOT NULL UNIQUE,
    debit_account_id  INTEGER NOT NULL REFERENCES accounts (id),
    credit_account_id INTEGER NOT NULL REFERENCES accounts (id),
    amount_msat       BIGINT  NOT NULL CHECK (amount_msat >= 0),
    kind              TEXT    NOT NULL CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending')),
    pending_id        INTEGER REFERENCES transfers (id),
    memo              TEXT    NOT NULL DEFAULT '',
    created_at        TIMESTAMP NOT NULL,
    CHECK (debit_account_id <> credit_account_id),
    CHECK ((kind IN ('post_pending', 'void_pending')) = (pending_id IS NOT NULL))
);
-- A pending transfer is resolved (posted or voided) at most once.
CREATE UNIQUE INDEX transfers_resolves_once ON transfers (pending_id) WHERE pending_id IS NOT NULL;
CREATE INDEX transfers_debit ON transfers (debit_account_id, id);
CREATE INDEX transfers_credit ON transfers (credit_account_id, id);

-- Transfers are immutable: a correction is a reversing transfer.
-- +goose StatementBegin
CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
BEGIN
    SELECT RAISE(ABORT, 'transfers are immutable');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
BEGIN
    SELECT RAISE(ABORT, 'transfers are immutable');
END;
-- +goose StatementEnd

CREATE TABLE offerings (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    slug                    TEXT    NOT NULL UNIQUE,
    name                    TEXT    NOT NULL,
    url                     TEXT    NOT NULL,
    description             TEXT    NOT NULL DEFAULT '',
    burn_rate_msat_per_hour BIGINT  NOT NULL CHECK (burn_rate_msat_per_hour > 0),
    grace_seconds           BIGINT  NOT NULL DEFAULT 0 CHECK (grace_seconds >= 0),
    manage_key_hash         TEXT    NOT NULL UNIQUE,
    -- set in the same transaction as the insert, once the id names the accounts
    runway_account_id       INTEGER REFERENCES accounts (id),
    earned_account_id       INTEGER REFERENCES accounts (id),
    -- accrued_at: the instant up to which consumption has been posted to
    -- earned. funded_until: accrued_at + runway / burn rate, rewritten with
    -- every change to the runway or the burn rate; NULL until first funded.
    accrued_at              TIMESTAMP NOT NULL,
    funded_until            TIMESTAMP,
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL
);
CREATE INDEX offerings_name ON offerings (name);
CREATE INDEX offerings_funded_until ON offerings (funded_until);

-- Secrets the site generates once and keeps across restarts and replicas
-- (cookie signing key, token signing key).
CREATE TABLE site_secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE site_secrets;
DROP TABLE offerings;
DROP TRIGGER transfers_no_delete;
DROP TRIGGER transfers_no_update;
DROP TABLE transfers;
DROP TABLE accounts;
