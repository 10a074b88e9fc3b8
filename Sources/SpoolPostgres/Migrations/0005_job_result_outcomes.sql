-- Every outcome a worker settles with is a row: `throttled` (a provider's 429 paused the limiter) and
-- `quota_exhausted` (the provider account is out of quota) were refused by 0001's check, and one such
-- row got its whole COPY batch refused. The list matches `JobOutcome.label` (a test compares them).
ALTER TABLE job_results DROP CONSTRAINT job_results_outcome_check;
ALTER TABLE job_results ADD CONSTRAINT job_results_outcome_check
    CHECK (outcome IN ('completed', 'retry', 'snoozed', 'dead', 'throttled', 'quota_exhausted'));
