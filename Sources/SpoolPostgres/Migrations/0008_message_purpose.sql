-- Messages carry a purpose (issue 14): `marketing` passes every gate; `transactional` (replies,
-- reminders, the message API) skips marketing consent and quiet hours, as US rules treat them, while
-- opt-outs, pauses and the budget still apply (Sources/SpoolSMS/SendGates.swift). Every row written
-- before is a campaign's, hence the default.
ALTER TABLE messages ADD COLUMN purpose text NOT NULL DEFAULT 'marketing'
    CONSTRAINT messages_purpose_check CHECK (purpose IN ('marketing', 'transactional'));
-- A campaign's message is marketing, whoever writes it.
ALTER TABLE messages ADD CONSTRAINT messages_campaign_purpose_check CHECK (campaign_id IS NULL OR purpose = 'marketing');

-- The message API (`POST /v1/messages`): the producer's Idempotency-Key, one message per key and
-- tenant, and when the message was asked to go (NULL: at once). `campaign_id` is already NULL for
-- messages outside a campaign.
ALTER TABLE messages ADD COLUMN idempotency_key text CHECK (octet_length(idempotency_key) BETWEEN 1 AND 256);
ALTER TABLE messages ADD COLUMN send_at timestamptz;
CREATE UNIQUE INDEX messages_tenant_idempotency_key ON messages (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
