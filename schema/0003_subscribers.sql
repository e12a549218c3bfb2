-- Personal data lives here, outside the log: events refer to subscriber_id only.
-- Erasure deletes the row; the log stays complete and replayable.
create table subscriber_emails (
    subscriber_id uuid primary key,
    email         text        not null unique,  -- normalised (see subscribers.normalise_email)
    created_at    timestamptz not null default now()
);

-- Projection of the subscriber-<id> streams.
create table subscribers (
    subscriber_id   uuid primary key,
    status          text        not null
        check (status in ('pending', 'confirmed', 'unsubscribed', 'erased')),
    requested_at    timestamptz not null,
    confirmed_at    timestamptz,
    unsubscribed_at timestamptz,
    unsubscribe_reason text,
    bounces         integer     not null default 0
);
create index subscribers_confirmed on subscribers (subscriber_id) where status = 'confirmed';
