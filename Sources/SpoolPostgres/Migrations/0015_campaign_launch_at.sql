-- Scheduled campaign launch (issue 16): `spool campaign launch ID --at T` stores the instant and
-- enqueues one `campaign-launch` job for it. Until then the campaign is `scheduled`: cancelling it, or
-- launching it again at another time or now, changes this row, and the job launches only a campaign
-- still scheduled for its own instant. So a cancel always wins, however late it comes.
ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check
    CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'cancelled', 'completed')) NOT VALID;
ALTER TABLE campaigns VALIDATE CONSTRAINT campaigns_status_check;
-- Unix milliseconds: the job carries the same integer, compared exactly.
ALTER TABLE campaigns ADD COLUMN launch_at_ms bigint;
