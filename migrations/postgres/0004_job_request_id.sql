-- The id of the HTTP request that enqueued the job (x-request-id), carried into the worker's logs.
alter table jobs add column request_id text;
