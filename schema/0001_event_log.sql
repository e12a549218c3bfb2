-- The event log: the source of truth and the outbox. Append-only, enforced here.
create table events (
    position       bigint generated always as identity primary key,
    -- xid8 of the writing transaction: a tailing reader only reads rows below the
    -- oldest running transaction (pg_snapshot_xmin), so a late commit is never skipped.
    tx_id          xid8        not null default pg_current_xact_id(),
    stream_id      text        not null,
    stream_version integer     not null check (stream_version > 0),
    type           text        not null,
    schema_version smallint    not null default 1,
    data           jsonb       not null,
    metadata       jsonb       not null default '{}',
    recorded_at    timestamptz not null default now(),
    unique (stream_id, stream_version)
);

create index events_tx_position on events (tx_id, position);

-- Tallies "as of" a time and `verify` recompute standing votes from the log itself.
create index events_votes on events ((data ->> 'comparison'), recorded_at)
    where type in ('VoteCast', 'VoteWithdrawn');

create function events_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'events are append-only: % refused on the event log', tg_op
        using errcode = 'prohibited_sql_statement_attempted';
end;
$$;

create trigger events_append_only before update or delete on events
    for each row execute function events_refuse_change();
create trigger events_no_truncate before truncate on events
    for each statement execute function events_refuse_change();

-- A retried request carries the same key: the first append wins, later ones append nothing.
create table idempotency_keys (
    key            text primary key,
    stream_id      text        not null,
    first_position bigint      not null,
    last_position  bigint      not null,
    recorded_at    timestamptz not null default now()
);
