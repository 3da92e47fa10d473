-- jobs: our record of every queued job, whatever the queue backend. apalis carries the work;
-- this table is what `GET /api/v1/jobs/{id}` reads and what makes retries, dead jobs, cron
-- de-duplication and backpressure behave the same on redis and sqlite.
-- status: pending (queued, or waiting for its next attempt), running, done, dead (final).
create table jobs (
    id text primary key,
    kind text not null,
    payload jsonb not null,
    status text not null,
    attempts integer not null default 0,
    max_attempts integer not null,
    result jsonb,
    error text,
    -- a scheduler tick (`cron:<source>:<unix seconds>`): one job per tick across every process.
    dedup_key text unique,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    -- when a pending retry becomes due.
    run_after timestamptz,
    finished_at timestamptz
);

create index jobs_status_idx on jobs (status, created_at desc);
create index jobs_kind_created_idx on jobs (kind, created_at desc);
create index jobs_created_idx on jobs (created_at desc);

-- one scrape per source at a time: a job holds the source's lease until it finishes or the
-- lease lapses (a worker that died mid-job).
alter table sources add column lease_job text;
alter table sources add column lease_until timestamptz;
