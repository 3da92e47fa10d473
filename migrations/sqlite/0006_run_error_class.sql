-- The class of a failed run's error, from a closed list (fetch_failed, http_status, …); what
-- anonymous readers see instead of the error's text. Runs that failed before it existed: unknown.
alter table scrape_runs add column error_class text;
update scrape_runs set error_class = 'unknown' where status = 'failed';
-- The article pages a run skipped (too large, refused, failed), as a JSON array of
-- {"url", "reason"} with reason an error class; null when it skipped none.
alter table scrape_runs add column skipped_pages text;
