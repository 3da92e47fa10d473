-- fetch_cache: what the scraper remembers about a url it fetched, so the next fetch can be a
-- conditional request (If-None-Match / If-Modified-Since) that a 304 answers without a body.
-- a row is written only for responses that carried a validator (etag or last-modified).
-- `article_urls` (json array of strings) is set for a source's start url only: the articles
-- that the run which stored these validators returned. a 304 on the start url is trusted only
-- while every one of them is stored, so a run whose upsert failed is repeated in full.
create table fetch_cache (
    url text primary key,
    etag text,
    last_modified text,
    fetched_at timestamptz not null,
    article_urls text
);
