-- fetch_cache: validators for conditional requests (mirrors ../postgres; times in µs).
create table fetch_cache (
    url text primary key,
    etag text,
    last_modified text,
    fetched_at integer not null,
    article_urls text
);
