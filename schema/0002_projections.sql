-- Read models. Every table here can be dropped and rebuilt from the event log
-- (`verdicts replay`); nothing here is a source of truth.

create table tools (
    slug          text primary key,
    name          text        not null,
    vendor        text        not null,
    category      text        not null,
    tagline       text        not null,
    description   text        not null,
    pricing_entry text        not null,
    listed_at     timestamptz not null,
    revised_at    timestamptz not null
);

create table comparisons (
    slug         text primary key,
    title        text        not null,
    published_at timestamptz not null,
    tool_a       text        not null,
    tool_b       text        not null,
    -- sides (pricing read, best for) and panel reviews, as published
    doc          jsonb       not null,
    withdrawn_at timestamptz
);
create index comparisons_published on comparisons (published_at desc);

-- Each reader's standing votes and bookmarks (updated in the append transaction).
create table reader_votes (
    reader_id  uuid        not null,
    comparison text        not null,
    tool       text        not null,
    verdict    text        not null check (verdict in ('ship', 'skip')),
    cast_at    timestamptz not null,
    primary key (reader_id, comparison, tool)
);

create table reader_bookmarks (
    reader_id uuid        not null,
    tool      text        not null,
    added_at  timestamptz not null,
    primary key (reader_id, tool)
);

-- Counts (community ship/skip per comparison and tool, bookmarks per tool), per day.
-- Appends only INSERT into counter_deltas, so a viral comparison never queues its
-- voters behind one row lock; a compactor folds deltas into counters.
-- A count is sum(counters) + sum(counter_deltas).
create table counters (
    metric  text   not null,
    subject text   not null,
    day     date   not null,
    value   bigint not null,
    primary key (metric, subject, day)
);

create table counter_deltas (
    id      bigint generated always as identity primary key,
    metric  text    not null,
    subject text    not null,
    day     date    not null,
    delta   integer not null
);
create index counter_deltas_subject on counter_deltas (metric, subject);

-- Where each asynchronously maintained projection stands in the log, (tx_id, position).
create table projection_cursors (
    name       text primary key,
    tx_id      xid8        not null,
    position   bigint      not null,
    updated_at timestamptz not null default now()
);
