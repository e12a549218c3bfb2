-- The global cap on confirmation mails per hour (CONFIRM_HOURLY_LIMIT) counts, for every
-- request it files, the mails queued or sent in the hour before it: an index on the
-- time of the requests that count, so that count reads about one hour's worth of rows.
create index confirmation_mails_counted on confirmation_mails (requested_at)
    where state not in ('suppressed', 'skipped');
