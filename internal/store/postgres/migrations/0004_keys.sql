-- 0004_keys: API keys and worker join tokens (issue 4).
--
-- The token is never stored: hash is its hex SHA-256, by which a presented
-- token is found. A signed key's secret is stored sealed under the server
-- key (sealed_secret), never in clear. expires_at and revoked_at are NULL
-- when unset.
CREATE TABLE api_keys (
    id            text        PRIMARY KEY,
    name          text        NOT NULL,
    kind          text        NOT NULL,
    scopes        jsonb       NOT NULL,
    hash          text        NOT NULL UNIQUE,
    sealed_secret bytea,
    pool          text        NOT NULL DEFAULT '',
    max_uses      integer     NOT NULL DEFAULT 0,
    uses          integer     NOT NULL DEFAULT 0,
    limits        jsonb       NOT NULL DEFAULT '{}',
    rotated_to    text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    revoked_at    timestamptz
);

-- Signatures of signed requests seen within their validity window: a
-- replay is refused until expires_at, on every server sharing the database.
CREATE TABLE request_signatures (
    key_id     text        NOT NULL,
    signature  text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (key_id, signature)
);
CREATE INDEX request_signatures_by_expiry ON request_signatures (expires_at);
