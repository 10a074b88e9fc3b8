-- The outcome of every settled job attempt, written in batches by JobResultRecorder (one COPY per batch,
-- not one commit per row). A job can settle more than once per attempt (snoozed, then completed; or retried
-- by hand from the dead set), so every settle is a row of its own.
CREATE TABLE job_results (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      text        NOT NULL,
    attempt     integer     NOT NULL,
    queue       text        NOT NULL,
    kind        text        NOT NULL,
    tenant      text,
    outcome     text        NOT NULL CHECK (outcome IN ('completed', 'retry', 'snoozed', 'dead')),
    detail      text,
    duration_ms double precision NOT NULL,
    finished_at timestamptz NOT NULL
);

CREATE INDEX job_results_job_id ON job_results (job_id);
CREATE INDEX job_results_kind_finished_at ON job_results (kind, finished_at);
