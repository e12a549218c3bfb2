-- Mail: confirmation mails and the weekly digest.
--
-- Operational tables (work state the log cannot give back: who holds a lease, when
-- to retry; dropping them loses progress, not history):
--   confirmation_mails  one row per SubscriptionRequested event (the outbox, read from
--                       the log by cursor): sent, suppressed, skipped, ...
--   digest_issues       one row per issued week: the issue rendered once
--   digest_recipients   the recipient set frozen when the issue was assembled, and
--                       each recipient's send state with its lease
-- Projection (rebuilt by `verdicts replay`):
--   digest_deliveries   the delivery ledger: DigestDelivered / DigestBounced per
--                       (week, subscriber)
--
-- Send states shared by both queues:
--   pending -> claimed (leased in a batch) -> sending (SMTP transaction under way)
--           -> sent | bounced (5xx) | failed (4xx too many times) | skipped (no longer
--              subscribed when its turn came) | unknown (the connection broke during or
--              after DATA, or the sender died while `sending`: it may have been
--              delivered, so it is reported, never re-sent automatically)
--   suppressed (confirmations only): never sent, by the per-address daily limit or
--              because an earlier unsent confirmation already covers the request.

create table confirmation_mails (
    id              bigint primary key,  -- position of the SubscriptionRequested event
    subscriber_id   uuid        not null,
    requested_at    timestamptz not null,
    state           text        not null check (state in (
        'pending', 'claimed', 'sending', 'sent', 'bounced', 'failed', 'skipped',
        'unknown', 'suppressed')),
    detail          text,
    code            integer,             -- last SMTP reply code
    attempts        integer     not null default 0,
    next_attempt_at timestamptz not null default now(),
    lease_owner     text,
    lease_until     timestamptz,
    updated_at      timestamptz not null default now()
);
create index confirmation_mails_due on confirmation_mails (next_attempt_at)
    where state = 'pending';
create index confirmation_mails_leased on confirmation_mails (lease_until)
    where state in ('claimed', 'sending');
create index confirmation_mails_subscriber on confirmation_mails (subscriber_id, requested_at);

create table digest_issues (
    week         text primary key,       -- ISO week: 2026-W47
    position     bigint      not null,   -- the DigestIssued event
    subject      text        not null,
    -- Rendered once at issue time; per-recipient fields are placeholders.
    html         text        not null,
    text         text        not null,
    recipients   integer     not null default 0,
    issued_at    timestamptz not null default now(),
    completed_at timestamptz
);

create table digest_recipients (
    id              bigint generated always as identity primary key,
    week            text        not null references digest_issues (week),
    subscriber_id   uuid        not null,
    state           text        not null default 'pending' check (state in (
        'pending', 'claimed', 'sending', 'sent', 'bounced', 'failed', 'skipped', 'unknown')),
    detail          text,
    code            integer,
    attempts        integer     not null default 0,
    next_attempt_at timestamptz not null default now(),
    lease_owner     text,
    lease_until     timestamptz,
    updated_at      timestamptz not null default now(),
    unique (week, subscriber_id)
);
create index digest_recipients_due on digest_recipients (week, next_attempt_at, id)
    where state = 'pending';
create index digest_recipients_leased on digest_recipients (lease_until)
    where state in ('claimed', 'sending');

-- The delivery ledger: a projection of DigestDelivered / DigestBounced.
create table digest_deliveries (
    week          text        not null,
    subscriber_id uuid        not null,
    status        text        not null check (status in ('delivered', 'bounced', 'failed')),
    deliveries    integer     not null default 0,  -- DigestDelivered events: more than 1 is a duplicate
    bounces       integer     not null default 0,
    message_id    text,
    code          integer,
    updated_at    timestamptz not null,
    primary key (week, subscriber_id)
);
