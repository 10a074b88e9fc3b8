-- AI replies and human takeover (issue 14 §4-§6).
--
-- A conversation's outbound messages are rows of `messages` like any other (so every gate, the budget
-- and the no-double-send of the `send` kind apply), tied to their conversation and written by `author`:
-- 'ai' (the `ai-reply` kind), 'agent' (a human, `POST /v1/conversations/{id}/messages`) or 'system'.
-- An AI reply carries what producing it cost: tokens as the provider counted them, and the cost in
-- thousandths of a cent (rounded up), as transcripts do.
ALTER TABLE messages
    ADD COLUMN conversation_id       text REFERENCES conversations (id),
    ADD COLUMN author                text CHECK (author IN ('ai', 'agent', 'system')),
    ADD COLUMN ai_model              text,
    ADD COLUMN ai_prompt_tokens      int CHECK (ai_prompt_tokens >= 0),
    ADD COLUMN ai_completion_tokens  int CHECK (ai_completion_tokens >= 0),
    ADD COLUMN ai_cost_millicents    bigint CHECK (ai_cost_millicents >= 0),
    ADD CONSTRAINT messages_conversation_author_check CHECK ((conversation_id IS NULL) = (author IS NULL));
-- A conversation's messages, oldest first.
CREATE INDEX messages_conversation_queued ON messages (conversation_id, queued_at, id) WHERE conversation_id IS NOT NULL;

-- 'suppressed': an AI reply that was generated, then found its conversation taken over by a human in
-- the step that would have handed it to the provider. It is kept, never sent.
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'skipped', 'in_doubt', 'suppressed'));

-- A number answers its conversations with the AI when `ai_reply` is on, with `ai_prompt` as the system
-- prompt (a template: {{business_name}}, {{first_name}}, {{now}}, {{date}}, {{time}}, {{timezone}}).
ALTER TABLE sender_numbers
    ADD COLUMN ai_reply  boolean NOT NULL DEFAULT false,
    ADD COLUMN ai_prompt text CHECK (length(ai_prompt) BETWEEN 1 AND 20000);

-- When and why a conversation last changed hands (takeover, release, or the AI handing it over after
-- a refusal); the events table keeps the history.
ALTER TABLE conversations
    ADD COLUMN mode_changed_at timestamptz,
    ADD COLUMN mode_reason     text;

-- AI spend per tenant, UTC day and model: one row updated in the transaction that stores each reply.
CREATE TABLE ai_usage (
    tenant_id         text   NOT NULL REFERENCES tenants (id),
    day               date   NOT NULL,
    model             text   NOT NULL,
    requests          bigint NOT NULL DEFAULT 0,
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    cost_millicents   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, model)
);
