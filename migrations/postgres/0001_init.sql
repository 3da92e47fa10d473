-- mediawarm schema, postgresql flavour. applied by sqlx at start-up; never edit once released,
-- add a new numbered file instead. the sqlite flavour (../sqlite) mirrors it column for column.

-- sources: what to scrape. `name` is the public key used in urls, cache keys and articles.
-- a deleted source keeps its row as a tombstone (`deleted_at` set) so its articles keep a valid
-- foreign key; every read of sources ignores tombstones, and re-creating the name revives it.
create table sources (
    name text primary key,
    kind text not null,
    url text not null,
    selectors jsonb,
    schedule text,
    rate_limit_per_sec double precision not null default 1.0,
    enabled boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    deleted_at timestamptz
);

-- articles: one row per canonical url. `sort_at` is published_at, else first_seen_at; it is set
-- on insert and never updated, so a row never moves across a keyset cursor.
-- `content_hash` (xxh3 of title, author, published_at, summary) lets an upsert skip unchanged rows.
create table articles (
    id bigint generated always as identity primary key,
    source text not null references sources (name),
    url text not null unique,
    title text not null,
    author text,
    published_at timestamptz,
    summary text,
    content_hash bigint not null,
    first_seen_at timestamptz not null,
    updated_at timestamptz not null,
    sort_at timestamptz not null
);

-- newest-first keyset pages over everything.
create index articles_sort_idx on articles (sort_at desc, id desc);
-- newest-first pages, volume and activity counts for one source.
create index articles_source_sort_idx on articles (source, sort_at desc, id desc);

-- scrape_runs: one row per scrape job; a retry of the same job updates its row.
create table scrape_runs (
    job_id text primary key,
    source text not null,
    started_at timestamptz not null,
    finished_at timestamptz,
    status text not null,
    pages_fetched bigint not null default 0,
    articles_new bigint not null default 0,
    articles_updated bigint not null default 0,
    error text
);

create index scrape_runs_source_started_idx on scrape_runs (source, started_at desc);

-- settings: small process-wide values, e.g. the cursor hmac secret (created once, then shared).
create table settings (
    key text primary key,
    value text not null
);
