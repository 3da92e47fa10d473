-- The scheduler skips a source's tick while an earlier scheduled scrape of it is still
-- pending: it looks for pending jobs whose dedup_key starts with `cron:<source>:`, a range
-- scan on this index (bytewise order, so the range is exactly the prefix whatever the
-- database's collation).
create index jobs_pending_dedup_idx on jobs (dedup_key collate "C")
    where status = 'pending' and dedup_key is not null;
