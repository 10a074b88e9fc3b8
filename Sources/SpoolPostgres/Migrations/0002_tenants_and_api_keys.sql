-- Tenants own jobs and API keys. `paused` is the kill switch: a paused tenant's jobs stay queued and are
-- not run. The budget caps (in cents, NULL for none) are enforced by the send job.
CREATE TABLE tenants (
    id                   text        PRIMARY KEY,
    name                 text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone             text        NOT NULL DEFAULT 'UTC',
    paused               boolean     NOT NULL DEFAULT false,
    daily_budget_cents   bigint      CHECK (daily_budget_cents >= 0),
    monthly_budget_cents bigint      CHECK (monthly_budget_cents >= 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Only a SHA-256 of each key is stored; the key itself is shown once, when it is created.
-- The id is the key's public part, so a lookup is one primary-key read.
CREATE TABLE api_keys (
    id          text        PRIMARY KEY,
    tenant_id   text        NOT NULL REFERENCES tenants (id),
    scope       text        NOT NULL CHECK (scope IN ('read', 'enqueue', 'admin')),
    secret_hash text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE INDEX api_keys_tenant_id ON api_keys (tenant_id);
