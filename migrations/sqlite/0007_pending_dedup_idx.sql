-- The scheduler skips a source's tick while an earlier scheduled scrape of it is still
-- pending (see ../postgres): a range scan over `cron:<source>:` on this index.
create index jobs_pending_dedup_idx on jobs (dedup_key)
    where status = 'pending' and dedup_key is not null;
