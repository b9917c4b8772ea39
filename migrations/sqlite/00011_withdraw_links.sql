-- +goose Up
-- One table of one-time LNURL-withdraw (LUD-03) links for every balance the
-- site owes someone: an offering's earnings (offering/<id>/earned), an
-- investment's returns (investment/<id>/payable), a sponsor bid's refund
-- (bid/<id>/refund). A wallet that scans one is paid the link's source
-- account through the one payout path, once. Only a hash of the k1 is kept.
-- offering_id is set only when the payouts are the offering owner's own.
CREATE TABLE withdraw_links (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    k1_hash        TEXT    NOT NULL UNIQUE,
    source_account TEXT    NOT NULL CHECK (source_account <> ''),
    offering_id    INTEGER REFERENCES offerings (id),
    description    TEXT    NOT NULL,
    payment_hash   TEXT,
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    used_at        TIMESTAMP
);

INSERT INTO withdraw_links (k1_hash, source_account, offering_id, description, payment_hash, created_at, expires_at, used_at)
SELECT w.k1_hash, 'offering/' || w.offering_id || '/earned', w.offering_id, 'Keepalive: earnings of ' || o.name,
       w.payment_hash, w.created_at, w.expires_at, w.used_at
FROM lnurl_withdrawals w JOIN offerings o ON o.id = w.offering_id
ORDER BY w.id;

INSERT INTO withdraw_links (k1_hash, source_account, offering_id, description, payment_hash, created_at, expires_at, used_at)
SELECT k1_hash, 'investment/' || investment_id || '/payable', NULL, 'Keepalive: investment returns',
       payment_hash, created_at, expires_at, used_at
FROM investment_withdraw_links
ORDER BY id;

DROP TABLE investment_withdraw_links;
DROP TABLE lnurl_withdrawals;

-- +goose Down
CREATE TABLE lnurl_withdrawals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    k1_hash      TEXT    NOT NULL UNIQUE,
    offering_id  INTEGER NOT NULL REFERENCES offerings (id),
    payment_hash TEXT,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    used_at      TIMESTAMP
);

CREATE TABLE investment_withdraw_links (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    k1_hash       TEXT    NOT NULL UNIQUE,
    investment_id INTEGER NOT NULL REFERENCES investments (id),
    payment_hash  TEXT,
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    used_at       TIMESTAMP
);

INSERT INTO lnurl_withdrawals (k1_hash, offering_id, payment_hash, created_at, expires_at, used_at)
SELECT k1_hash, offering_id, payment_hash, created_at, expires_at, used_at
FROM withdraw_links WHERE offering_id IS NOT NULL AND source_account = 'offering/' || offering_id || '/earned'
ORDER BY id;

-- Links to other balances (bid refunds) had no table before; they lapse.
INSERT INTO investment_withdraw_links (k1_hash, investment_id, payment_hash, created_at, expires_at, used_at)
SELECT k1_hash, CAST(SUBSTR(source_account, 12, LENGTH(source_account) - 19) AS INTEGER), payment_hash, created_at, expires_at, used_at
FROM withdraw_links WHERE source_account LIKE 'investment/%/payable'
ORDER BY id;

DROP TABLE withdraw_links;
