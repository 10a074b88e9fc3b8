-- Recurring schedules (issue 16): each fires a job of its kind at every tick of a cron expression in
-- a time zone, or of a fixed interval. The tick's time is part of the job's identity (its idempotency
-- key is `schedule:<id>:<tick ms>`), so however many schedulers run, and whatever dies mid-tick, a tick
-- is enqueued once. Times are unix milliseconds: a tick is an exact integer, the same in every process.
CREATE TABLE schedules (
    id             text        PRIMARY KEY,
    -- NULL: the operator's (from config/schedules.json, or made with the operator key).
    tenant_id      text        REFERENCES tenants (id),
    name           text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Where it comes from: the API or CLI, the static file (reconciled at start), or Spool itself.
    source         text        NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'config', 'builtin')),
    -- Who its jobs are enqueued as, checked against the kind's `enqueue` policy at every tick.
    producer       text        NOT NULL CHECK (producer IN ('tenant', 'operator', 'spool')),
    kind           text        NOT NULL,
    args           jsonb       NOT NULL DEFAULT '{}',
    queue          text,
    cron           text,
    every_ms       bigint      CHECK (every_ms >= 1000),
    timezone       text        NOT NULL DEFAULT 'UTC',
    anchor_ms      bigint      NOT NULL,
    starts_ms      bigint,
    ends_ms        bigint,
    jitter_ms      integer     NOT NULL DEFAULT 0 CHECK (jitter_ms BETWEEN 0 AND 3600000),
    missed         text        NOT NULL DEFAULT 'skip' CHECK (missed IN ('skip', 'one', 'all')),
    missed_limit   integer     NOT NULL DEFAULT 100 CHECK (missed_limit BETWEEN 1 AND 10000),
    overlap        text        NOT NULL DEFAULT 'allow' CHECK (overlap IN ('allow', 'skip')),
    paused         boolean     NOT NULL DEFAULT false,
    -- The next tick to fire; NULL: none (past ends_ms, or the expression never fires again).
    next_run_ms    bigint,
    last_run_ms    bigint,
    last_job_id    text,
    last_job_queue text,
    last_error     text,
    runs           bigint      NOT NULL DEFAULT 0,
    skipped        bigint      NOT NULL DEFAULT 0,
    -- A scheduler firing this schedule's due ticks holds it until then (PostgreSQL's clock, ms); one
    -- that died lets the claim lapse, and the next fires the same ticks, which the keys make no-ops.
    claimed_until  bigint,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((cron IS NULL) <> (every_ms IS NULL))
);
-- A name is unique per tenant (and among the operator's).
CREATE UNIQUE INDEX schedules_owner_name ON schedules ((coalesce(tenant_id, '')), name);
-- The schedulers' read: the due ones, soonest first.
CREATE INDEX schedules_due ON schedules (next_run_ms) WHERE NOT paused AND next_run_ms IS NOT NULL;
