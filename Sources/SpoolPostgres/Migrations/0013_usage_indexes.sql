-- The usage report (`GET /v1/usage`, `spool usage`) reads one tenant's rows over a range of UTC days.
-- Without these indexes each report would scan every tenant's messages and inbound messages:
-- `messages_tenant_sent_at` leaves out the messages never sent (skipped, failed, queued), which the
-- report counts too, by `queued_at`; inbound messages were only indexed by conversation.
CREATE INDEX messages_tenant_queued ON messages (tenant_id, queued_at);
-- Only inbound messages with a transcript entry count (voice notes), so only they are indexed; the
-- report's query repeats the predicate so that the planner can use it.
CREATE INDEX inbound_messages_tenant_created_transcribed ON inbound_messages (tenant_id, created_at)
    WHERE transcripts <> '[]'::jsonb;
