-- jobs: our record of every queued job, whatever the queue backend (mirrors ../postgres).
-- status: pending (queued, or waiting for its next attempt), running, done, dead (final).
create table jobs (
    id text primary key,
    kind text not null,
    payload text not null,
    status text not null,
    attempts integer not null default 0,
    max_attempts integer not null,
    result text,
    error text,
    -- a scheduler tick (`cron:<source>:<unix seconds>`): one job per tick across every process.
    dedup_key text unique,
    created_at integer not null,
    updated_at integer not null,
    run_after integer,
    finished_at integer
);

create index jobs_status_idx on jobs (status, created_at desc);
create index jobs_kind_created_idx on jobs (kind, created_at desc);
create index jobs_created_idx on jobs (created_at desc);

-- one scrape per source at a time (see ../postgres).
alter table sources add column lease_job text;
alter table sources add column lease_until integer;
