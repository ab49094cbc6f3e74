-- Version 5: API tokens of `lakeforge serve`. Only a SHA-256 of each token is kept (the token
-- itself is shown once, when created); `scopes` is a comma-separated list (predict, admin);
-- a revoked token keeps its row, with the time it was revoked, for the audit trail.
-- The same text on both backends.

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
