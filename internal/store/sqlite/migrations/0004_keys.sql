-- API keys and worker join tokens (issue 4). The token is never stored:
-- hash is its hex SHA-256, by which a presented token is found. A signed
-- key's secret is stored sealed under the server key (sealed_secret), never
-- in clear. Times are unix microseconds, 0 for unset; scopes and limits are
-- JSON text.
CREATE TABLE api_keys (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,
    hash          TEXT    NOT NULL UNIQUE,
    sealed_secret BLOB,
    pool          TEXT    NOT NULL DEFAULT '',
    max_uses      INTEGER NOT NULL DEFAULT 0,
    uses          INTEGER NOT NULL DEFAULT 0,
    limits        TEXT    NOT NULL DEFAULT '{}',
    rotated_to    TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL DEFAULT 0,
    revoked_at    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Signatures of signed requests seen within their validity window: a
-- replay is refused until expires_at, across restarts.
CREATE TABLE request_signatures (
    key_id     TEXT    NOT NULL,
    signature  TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, signature)
) WITHOUT ROWID;
CREATE INDEX request_signatures_by_expiry ON request_signatures (expires_at);
