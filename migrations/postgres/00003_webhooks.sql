-- +goose Up
-- Webhooks an owner points at the host: where to send which events. The
-- secret signs every message, so it is kept as issued (a hash could not
-- sign); it is shown to the owner once.
CREATE TABLE webhooks (
    id                 BIGSERIAL PRIMARY KEY,
    offering_id        BIGINT  NOT NULL REFERENCES offerings (id),
    url                TEXT    NOT NULL,
    events             TEXT    NOT NULL,
    secret             TEXT    NOT NULL,
    runway_low_seconds BIGINT  NOT NULL CHECK (runway_low_seconds > 0),
    -- The offering's state as last seen by the detector: events are the
    -- differences between this and the state now, so a change that
    -- happened while the site was down is still noticed.
    last_state         TEXT    NOT NULL CHECK (last_state IN ('alive', 'grace', 'expired', 'none')),
    low_sent           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TIMESTAMPTZ NOT NULL,
    disabled_at        TIMESTAMPTZ
);
CREATE INDEX webhooks_offering ON webhooks (offering_id, disabled_at);

-- One message to one webhook. event_key makes enqueueing idempotent:
-- funded:<payment_hash>, expired:<funded_until ms>…
CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    msg_id          TEXT    NOT NULL UNIQUE,
    webhook_id      BIGINT  NOT NULL REFERENCES webhooks (id),
    event           TEXT    NOT NULL CHECK (event IN ('funded', 'runway_low', 'expired', 'revived')),
    event_key       TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (webhook_id, event_key)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

-- Every attempt to deliver a message, shown to the owner.
CREATE TABLE webhook_attempts (
    id          BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT  NOT NULL REFERENCES webhook_deliveries (id),
    at          TIMESTAMPTZ NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    duration_ms BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
