-- Sender numbers belong to tenants: a campaign sends only from its own tenant's numbers, so no tenant
-- can book another's `sms:sender:{from}` limiter. A number is held by one tenant at a time. Besides
-- E.164 and `whatsapp:` + E.164, short codes and messaging service sids are senders campaigns accept,
-- so they are registered the same way.
CREATE TABLE sender_numbers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  text        NOT NULL REFERENCES tenants (id),
    number     text        NOT NULL UNIQUE
                           CHECK (number ~ '^(whatsapp:)?\+[1-9][0-9]{7,14}$' OR number ~ '^[0-9]{5,6}$' OR number ~ '^MG[0-9a-fA-F]{32}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sender_numbers_tenant_id ON sender_numbers (tenant_id);

-- Campaigns made before this keep working: each sender goes to the tenant of the earliest campaign
-- that used it. Senders of another shape cannot be registered and are left out.
INSERT INTO sender_numbers (tenant_id, number)
SELECT DISTINCT ON (sender) tenant_id, sender FROM campaigns
WHERE sender ~ '^(whatsapp:)?\+[1-9][0-9]{7,14}$' OR sender ~ '^[0-9]{5,6}$' OR sender ~ '^MG[0-9a-fA-F]{32}$'
ORDER BY sender, created_at, id
ON CONFLICT (number) DO NOTHING;
