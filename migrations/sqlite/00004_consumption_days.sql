-- +goose Up
-- The runway an offering consumed, summed per UTC day. The accrual job
-- posts runway -> earned every minute, each a transfer; the public ledger
-- lists one line a day from here instead of summing those transfers on
-- every view. Kept in the same transaction as each accrual; the test
-- invariants check it against the transfers.
CREATE TABLE consumption_days (
    offering_id       INTEGER NOT NULL REFERENCES offerings (id),
    day               TEXT    NOT NULL, -- UTC, YYYY-MM-DD
    amount_msat       BIGINT  NOT NULL CHECK (amount_msat > 0),
    postings          BIGINT  NOT NULL CHECK (postings > 0),
    first_transfer_id INTEGER NOT NULL,
    last_transfer_id  INTEGER NOT NULL,
    first_at          TIMESTAMP NOT NULL,
    last_at           TIMESTAMP NOT NULL,
    PRIMARY KEY (offering_id, day)
);
CREATE INDEX consumption_days_last ON consumption_days (offering_id, last_transfer_id);

-- The other movements of an offering's money, found without walking past
-- its accruals (keys accrual:<offering>:<ms>).
CREATE INDEX transfers_debit_movements ON transfers (debit_account_id, id) WHERE key NOT LIKE 'accrual:%';
CREATE INDEX transfers_credit_movements ON transfers (credit_account_id, id) WHERE key NOT LIKE 'accrual:%';

INSERT INTO consumption_days (offering_id, day, amount_msat, postings, first_transfer_id, last_transfer_id, first_at, last_at)
SELECT o.id, substr(t.created_at, 1, 10), SUM(t.amount_msat), COUNT(*), MIN(t.id), MAX(t.id), MIN(t.created_at), MAX(t.created_at)
FROM transfers t
JOIN offerings o ON t.debit_account_id = o.runway_account_id AND t.credit_account_id = o.earned_account_id
WHERE t.kind IN ('posted', 'post_pending') AND t.amount_msat > 0
GROUP BY o.id, substr(t.created_at, 1, 10);

-- +goose Down
DROP INDEX transfers_credit_movements;
DROP INDEX transfers_debit_movements;
DROP TABLE consumption_days;
