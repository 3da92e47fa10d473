-- Jobs survive a queue that forgets them (mirrors ../postgres/0005_job_delivery.sql).
alter table jobs add column task_id text;
alter table jobs add column delivery integer not null default 0;
alter table jobs add column owner text;
alter table jobs add column lease_until integer;

alter table scrape_runs add column delivery integer not null default 0;
alter table sources add column lease_delivery integer;

create table process_leases (
    name text primary key,
    holder text not null,
    until integer not null
);
