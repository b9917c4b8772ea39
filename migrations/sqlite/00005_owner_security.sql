-- +goose Up
-- LNURL-auth: the browser that shows a challenge holds a random binding
-- the QR code does not carry; only its hash is kept. Finishing a sign-in
-- takes the binding, so seeing the QR is not enough.
ALTER TABLE lnurl_auth_challenges ADD COLUMN binding_hash TEXT;
CREATE UNIQUE INDEX lnurl_auth_challenges_binding ON lnurl_auth_challenges (binding_hash);

-- Owner sessions live on the server, so signing out, rotating a key or
-- "sign out everywhere" ends them. The cookie holds a random token; only
-- its hash is kept.
CREATE TABLE owner_sessions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT      NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX owner_sessions_expires ON owner_sessions (expires_at);

-- The offerings a session may manage, each with the version of the
-- manage key it was signed in with.
CREATE TABLE owner_session_offerings (
    session_id  INTEGER NOT NULL REFERENCES owner_sessions (id) ON DELETE CASCADE,
    offering_id INTEGER NOT NULL REFERENCES offerings (id),
    key_version TEXT    NOT NULL,
    PRIMARY KEY (session_id, offering_id)
);
CREATE INDEX owner_session_offerings_offering ON owner_session_offerings (offering_id);

-- Webhook failures were stored as the client's error text (addresses,
-- ports, resolver); owners now see a class only. Rewrite what is stored.
UPDATE webhook_deliveries SET last_error = 'Could not connect.'
    WHERE last_error <> '' AND last_error NOT LIKE 'HTTP %' AND last_error NOT LIKE 'No answer within %';
UPDATE webhook_attempts SET error = 'Could not connect.'
    WHERE error <> '' AND error NOT LIKE 'HTTP %' AND error NOT LIKE 'No answer within %';

-- +goose Down
DROP TABLE owner_session_offerings;
DROP TABLE owner_sessions;
DROP INDEX lnurl_auth_challenges_binding;
ALTER TABLE lnurl_auth_challenges DROP COLUMN binding_hash;
