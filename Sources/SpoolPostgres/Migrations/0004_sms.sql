-- SMS campaigns: contacts, the do-not-contact list, campaigns, one message row per recipient, an
-- append-only event log, and budget spend. The `send` job is the only writer of a message's status
-- after launch (and delivery receipts after `sent`); see Sources/SpoolJobs/Send/.

CREATE TABLE contacts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      text        NOT NULL REFERENCES tenants (id),
    phone          text        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    first_name     text,
    last_name      text,
    custom         jsonb       NOT NULL DEFAULT '{}',
    timezone       text,
    consent        text        NOT NULL DEFAULT 'unknown' CHECK (consent IN ('opted_in', 'opted_out', 'unknown')),
    consent_source text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, phone)
);
-- Launch walks a tenant's contacts by id (keyset pagination): (tenant_id, id).
CREATE INDEX contacts_tenant_id_id ON contacts (tenant_id, id);

CREATE TABLE do_not_contact (
    tenant_id  text        NOT NULL REFERENCES tenants (id),
    phone      text        NOT NULL,
    reason     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, phone)
);

CREATE TABLE campaigns (
    id           text        PRIMARY KEY,
    tenant_id    text        NOT NULL REFERENCES tenants (id),
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    body         text        NOT NULL CHECK (length(body) BETWEEN 1 AND 1600),
    sender       text        NOT NULL,
    status       text        NOT NULL DEFAULT 'draft'
                             CHECK (status IN ('draft', 'running', 'paused', 'cancelled', 'completed')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    launched_at  timestamptz,
    completed_at timestamptz
);
CREATE INDEX campaigns_tenant_id ON campaigns (tenant_id, created_at);

CREATE TABLE messages (
    id                  text        PRIMARY KEY,
    tenant_id           text        NOT NULL REFERENCES tenants (id),
    campaign_id         text        REFERENCES campaigns (id),
    contact_id          bigint      REFERENCES contacts (id),
    to_phone            text        NOT NULL,
    from_sender         text        NOT NULL,
    body                text        NOT NULL,
    segments            int         NOT NULL,
    encoding            text        NOT NULL CHECK (encoding IN ('GSM-7', 'UCS-2')),
    cost_cents          bigint      NOT NULL,
    status              text        NOT NULL DEFAULT 'queued'
                                    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'skipped', 'in_doubt')),
    reason              text,
    provider_sid        text,
    provider_error_code text,
    attempts            int         NOT NULL DEFAULT 0,
    -- The attempt that moved the message to `sending`: a later attempt that finds another token here
    -- knows an earlier one died mid-call, and must reconcile rather than send again.
    send_token          text,
    budget_day          date,
    queued_at           timestamptz NOT NULL DEFAULT now(),
    sending_at          timestamptz,
    sent_at             timestamptz,
    delivered_at        timestamptz,
    failed_at           timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, contact_id)
);
-- Reports count a campaign's messages by status; completion checks for non-final ones.
CREATE INDEX messages_campaign_status ON messages (campaign_id, status);
-- Deleting a contact checks that no message still points at it: without this index, every deleted
-- contact would scan all messages.
CREATE INDEX messages_contact_id ON messages (contact_id);
-- Receipts find a message by the provider's id.
CREATE INDEX messages_provider_sid ON messages (provider_sid) WHERE provider_sid IS NOT NULL;
-- The dashboard counts a tenant's sends per day.
CREATE INDEX messages_tenant_sent_at ON messages (tenant_id, sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text        NOT NULL,
    campaign_id text,
    message_id  text,
    job_id      text,
    kind        text        NOT NULL,
    payload     jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_message_id ON events (message_id);
CREATE INDEX events_campaign_id ON events (campaign_id, id);

-- Reserved spend per tenant and UTC day or month (`period` is 'day' or 'month', `starts` its first day).
CREATE TABLE budget_spend (
    tenant_id   text   NOT NULL REFERENCES tenants (id),
    period      text   NOT NULL CHECK (period IN ('day', 'month')),
    starts      date   NOT NULL,
    spent_cents bigint NOT NULL DEFAULT 0 CHECK (spent_cents >= 0),
    PRIMARY KEY (tenant_id, period, starts)
);
