-- Kept counts for campaign reports (issue 17: a campaign's page in ≤ 50 ms with a million messages):
-- how many of a campaign's messages are in each status (and skip reason), their cost, and how many
-- were sent in each minute, kept as messages change instead of counted at each report.
--
-- Statement-level triggers with transition tables: a statement that writes 5,000 messages (a launch
-- batch) adds its counts in one upsert, not 5,000. Counts are split in 8 shards by the message's id,
-- so that concurrent sends of one campaign rarely wait on the same row, and each statement upserts its
-- rows in key order, so that two statements lock them in the same order. A report sums the shards.
CREATE TABLE campaign_counts (
    campaign_id text     NOT NULL,
    status      text     NOT NULL,
    reason      text     NOT NULL,
    shard       smallint NOT NULL,
    messages    bigint   NOT NULL,
    cost_cents  bigint   NOT NULL,
    PRIMARY KEY (campaign_id, status, reason, shard)
);

CREATE TABLE campaign_sent_minutes (
    campaign_id text     NOT NULL,
    minute      bigint   NOT NULL,  -- unix ms of the minute's start
    shard       smallint NOT NULL,
    sent        bigint   NOT NULL,
    PRIMARY KEY (campaign_id, minute, shard)
);

CREATE FUNCTION campaign_counts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO campaign_counts AS c (campaign_id, status, reason, shard, messages, cost_cents)
    SELECT campaign_id, status, coalesce(reason, ''), (hashtext(id) & 7)::smallint, count(*), sum(cost_cents)
    FROM new_rows WHERE campaign_id IS NOT NULL
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (campaign_id, status, reason, shard)
    DO UPDATE SET messages = c.messages + EXCLUDED.messages, cost_cents = c.cost_cents + EXCLUDED.cost_cents;
    INSERT INTO campaign_sent_minutes AS m (campaign_id, minute, shard, sent)
    SELECT campaign_id, (extract(epoch FROM date_trunc('minute', sent_at)) * 1000)::bigint, (hashtext(id) & 7)::smallint, count(*)
    FROM new_rows WHERE campaign_id IS NOT NULL AND sent_at IS NOT NULL
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (campaign_id, minute, shard) DO UPDATE SET sent = m.sent + EXCLUDED.sent;
    RETURN NULL;
END $$;

CREATE FUNCTION campaign_counts_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only rows whose counted fields changed; a message's old row is taken away, its new one added.
    WITH changed AS (
        SELECT o.campaign_id AS old_campaign, o.status AS old_status, coalesce(o.reason, '') AS old_reason, o.cost_cents AS old_cost,
               o.sent_at AS old_sent, n.campaign_id AS new_campaign, n.status AS new_status, coalesce(n.reason, '') AS new_reason,
               n.cost_cents AS new_cost, n.sent_at AS new_sent, (hashtext(n.id) & 7)::smallint AS shard
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.campaign_id IS NOT NULL OR n.campaign_id IS NOT NULL)
          AND (o.campaign_id, o.status, coalesce(o.reason, ''), o.cost_cents, o.sent_at)
              IS DISTINCT FROM (n.campaign_id, n.status, coalesce(n.reason, ''), n.cost_cents, n.sent_at)
    ), deltas AS (
        SELECT old_campaign AS campaign_id, old_status AS status, old_reason AS reason, shard, -1 AS messages, -old_cost AS cost
        FROM changed WHERE old_campaign IS NOT NULL
        UNION ALL
        SELECT new_campaign, new_status, new_reason, shard, 1, new_cost FROM changed WHERE new_campaign IS NOT NULL
    ), summed AS (
        SELECT campaign_id, status, reason, shard, sum(messages) AS messages, sum(cost) AS cost
        FROM deltas GROUP BY 1, 2, 3, 4 HAVING sum(messages) <> 0 OR sum(cost) <> 0
    )
    INSERT INTO campaign_counts AS c (campaign_id, status, reason, shard, messages, cost_cents)
    SELECT campaign_id, status, reason, shard, messages, cost FROM summed ORDER BY 1, 2, 3, 4
    ON CONFLICT (campaign_id, status, reason, shard)
    DO UPDATE SET messages = c.messages + EXCLUDED.messages, cost_cents = c.cost_cents + EXCLUDED.cost_cents;

    WITH moved AS (
        SELECT o.campaign_id AS old_campaign, o.sent_at AS old_sent, n.campaign_id AS new_campaign, n.sent_at AS new_sent,
               (hashtext(n.id) & 7)::smallint AS shard
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.campaign_id IS NOT NULL OR n.campaign_id IS NOT NULL)
          AND (o.campaign_id, date_trunc('minute', o.sent_at)) IS DISTINCT FROM (n.campaign_id, date_trunc('minute', n.sent_at))
    ), deltas AS (
        SELECT old_campaign AS campaign_id, (extract(epoch FROM date_trunc('minute', old_sent)) * 1000)::bigint AS minute, shard, -1 AS sent
        FROM moved WHERE old_campaign IS NOT NULL AND old_sent IS NOT NULL
        UNION ALL
        SELECT new_campaign, (extract(epoch FROM date_trunc('minute', new_sent)) * 1000)::bigint, shard, 1
        FROM moved WHERE new_campaign IS NOT NULL AND new_sent IS NOT NULL
    ), summed AS (
        SELECT campaign_id, minute, shard, sum(sent) AS sent FROM deltas GROUP BY 1, 2, 3 HAVING sum(sent) <> 0
    )
    INSERT INTO campaign_sent_minutes AS m (campaign_id, minute, shard, sent)
    SELECT campaign_id, minute, shard, sent FROM summed ORDER BY 1, 2, 3
    ON CONFLICT (campaign_id, minute, shard) DO UPDATE SET sent = m.sent + EXCLUDED.sent;
    RETURN NULL;
END $$;

CREATE FUNCTION campaign_counts_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO campaign_counts AS c (campaign_id, status, reason, shard, messages, cost_cents)
    SELECT campaign_id, status, coalesce(reason, ''), (hashtext(id) & 7)::smallint, -count(*), -sum(cost_cents)
    FROM old_rows WHERE campaign_id IS NOT NULL
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (campaign_id, status, reason, shard)
    DO UPDATE SET messages = c.messages + EXCLUDED.messages, cost_cents = c.cost_cents + EXCLUDED.cost_cents;
    INSERT INTO campaign_sent_minutes AS m (campaign_id, minute, shard, sent)
    SELECT campaign_id, (extract(epoch FROM date_trunc('minute', sent_at)) * 1000)::bigint, (hashtext(id) & 7)::smallint, -count(*)
    FROM old_rows WHERE campaign_id IS NOT NULL AND sent_at IS NOT NULL
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (campaign_id, minute, shard) DO UPDATE SET sent = m.sent + EXCLUDED.sent;
    RETURN NULL;
END $$;

-- The counts of the messages already there, before the triggers take over (in this one transaction).
INSERT INTO campaign_counts (campaign_id, status, reason, shard, messages, cost_cents)
SELECT campaign_id, status, coalesce(reason, ''), (hashtext(id) & 7)::smallint, count(*), sum(cost_cents)
FROM messages WHERE campaign_id IS NOT NULL GROUP BY 1, 2, 3, 4;
INSERT INTO campaign_sent_minutes (campaign_id, minute, shard, sent)
SELECT campaign_id, (extract(epoch FROM date_trunc('minute', sent_at)) * 1000)::bigint, (hashtext(id) & 7)::smallint, count(*)
FROM messages WHERE campaign_id IS NOT NULL AND sent_at IS NOT NULL GROUP BY 1, 2, 3;

CREATE TRIGGER messages_campaign_counts_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_counts_on_insert();
CREATE TRIGGER messages_campaign_counts_update AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_counts_on_update();
CREATE TRIGGER messages_campaign_counts_delete AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_counts_on_delete();
