-- An operator can hold a week's digest (pause / resume) or stop it for good (cancel).
-- DigestPaused / DigestResumed / DigestCancelled in the digest-<week> stream are the
-- record; these columns are the issue's state, written in the same transaction.
alter table digest_issues
    add column paused_at    timestamptz,
    add column cancelled_at timestamptz;

-- Recipients a cancelled week will never send to settle as 'cancelled'.
alter table digest_recipients drop constraint digest_recipients_state_check;
alter table digest_recipients add constraint digest_recipients_state_check check (state in (
    'pending', 'claimed', 'sending', 'sent', 'bounced', 'failed', 'skipped', 'unknown',
    'cancelled'));
