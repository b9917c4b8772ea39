-- +goose Up
-- The simulated Lightning node's invoices (KEEPALIVE_LIGHTNING=demo), so an
-- invoice made before a restart can still be paid after it, and credited
-- once. Only the demo node reads and writes this table; a real node keeps
-- its own invoices.
CREATE TABLE demo_invoices (
    payment_hash    TEXT    PRIMARY KEY,
    preimage        TEXT    NOT NULL,
    payment_request TEXT    NOT NULL,
    amount_msat     BIGINT  NOT NULL CHECK (amount_msat >= 0),
    paid_msat       BIGINT  NOT NULL DEFAULT 0 CHECK (paid_msat >= 0),
    state           TEXT    NOT NULL CHECK (state IN ('open', 'settled', 'canceled')),
    add_index       BIGINT  NOT NULL,
    settle_index    BIGINT  NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    settled_at      TIMESTAMP
);

-- +goose Down
DROP TABLE demo_invoices;
