-- +goose Up
-- A raise asked while an earlier raise of the same bid is still unpaid
-- supersedes it: both were priced from the same paid amount, so paying
-- both would make the bid more than either target. A superseded invoice's
-- payment, if it still arrives, goes to the bid's refund.
ALTER TABLE sponsor_bid_invoices ADD COLUMN superseded_at TIMESTAMP;

-- +goose Down
ALTER TABLE sponsor_bid_invoices DROP COLUMN superseded_at;
