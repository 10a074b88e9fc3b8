-- The outcome of every settled job attempt, written in batches by JobResultRecorder (one COPY per batch,
-- not one commit per row). Read by job status queries and reports.
CREATE TABLE job_results (
    job_id      text        NOT NULL,
    attempt     integer     NOT NULL,
    queue       text        NOT NULL,
    kind        text        NOT NULL,
    tenant      text,
    outcome     text        NOT NULL CHECK (outcome IN ('completed', 'retry', 'snoozed', 'dead')),
    detail      text,
    duration_ms double precision NOT NULL,
    finished_at timestamptz NOT NULL,
    PRIMARY KEY (job_id, attempt)
);

CREATE INDEX job_results_kind_finished_at ON job_results (kind, finished_at);
