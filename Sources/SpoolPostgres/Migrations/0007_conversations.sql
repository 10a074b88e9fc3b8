-- Conversations: what contacts send to a tenant's numbers (Twilio's inbound-message webhook). A
-- conversation is one contact writing to one of a tenant's numbers; `mode` says who answers it, the AI
-- assistant or a human agent who took it over. Addresses are kept as the channel names them: `+E164`
-- for SMS, `whatsapp:+E164` for WhatsApp, so a reply goes From `number` To `contact` unchanged.
CREATE TABLE conversations (
    id         text        PRIMARY KEY,
    tenant_id  text        NOT NULL REFERENCES tenants (id),
    contact    text        NOT NULL CHECK (contact ~ '^(whatsapp:)?\+[1-9][0-9]{6,14}$'),
    number     text        NOT NULL,
    channel    text        NOT NULL CHECK (channel IN ('sms', 'whatsapp')),
    mode       text        NOT NULL DEFAULT 'ai' CHECK (mode IN ('ai', 'human')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, number, contact)
);

-- One row per message a contact sent. The provider retries a webhook, so its id (the MessageSid) is
-- unique: a retried webhook is stored, and acted on, once. `media` is an array of
-- {"url", "content_type"}; `keyword` is set when the whole body was an opt-out, opt-in or help keyword.
CREATE TABLE inbound_messages (
    id              text        PRIMARY KEY,
    tenant_id       text        NOT NULL REFERENCES tenants (id),
    conversation_id text        NOT NULL REFERENCES conversations (id),
    provider_sid    text        NOT NULL UNIQUE,
    from_address    text        NOT NULL,
    to_address      text        NOT NULL,
    body            text        NOT NULL,
    profile_name    text,
    media           jsonb       NOT NULL DEFAULT '[]',
    keyword         text        CHECK (keyword IN ('stop', 'start', 'help')),
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- A conversation's messages, oldest first.
CREATE INDEX inbound_messages_conversation_created ON inbound_messages (conversation_id, created_at, id);

-- What HELP answers; NULL: "<tenant name>: reply STOP to opt out, START to opt back in."
ALTER TABLE tenants ADD COLUMN help_text text CHECK (length(help_text) BETWEEN 1 AND 1600);

-- events.message_id names outbound messages (`messages`); an inbound message's events name it here.
ALTER TABLE events ADD COLUMN inbound_message_id text;
