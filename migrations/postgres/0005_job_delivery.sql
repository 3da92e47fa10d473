-- Jobs survive a queue that forgets them (docs/ARCHITECTURE.md, "Job states and delivery").
-- task_id: the apalis task id of the job's latest push, so the reconciler can ask the queue
--   whether it still carries the job.
-- delivery: counts the deliveries that started the job; never reset (not even by a retry of a
--   dead job), so every write of a delivery can name it and a stale delivery changes nothing.
-- owner, lease_until: which delivery runs the job and until when; renewed while it runs. A
--   running row is taken over (by a new delivery or by the reconciler) only once it lapsed.
alter table jobs add column task_id text;
alter table jobs add column delivery bigint not null default 0;
alter table jobs add column owner text;
alter table jobs add column lease_until timestamptz;

-- the delivery that wrote a run row and the one that holds a source's scrape lease.
alter table scrape_runs add column delivery bigint not null default 0;
alter table sources add column lease_delivery bigint;

-- process_leases: a named role that one process at a time holds (the reconciler), taken over
-- by another process once `until` has passed.
create table process_leases (
    name text primary key,
    holder text not null,
    until timestamptz not null
);
