-- An Idempotency-Key names one request. The method, path and a hash of the body it came
-- with are kept beside it, so the same key with another request is refused (422,
-- idempotency-key-reused) instead of answered with the first one's result. The key is
-- scoped to its caller (`key` is "<caller>:<key>"). A request that appended nothing
-- holds its key too, with no positions.
--
-- A client's key expires (a day after the request, by the API's clock): the worker's
-- expire_idempotency_keys job deletes it and the key can name a new request. Keys the
-- system sets for itself (one reported bounce per digest) have no expiry. Rows from
-- before this file have neither request nor expiry: they replay as before.
alter table idempotency_keys
    add column method      text,
    add column path        text,
    add column body_sha256 text,
    add column expires_at  timestamptz,
    alter column first_position drop not null,
    alter column last_position drop not null;

create index idempotency_keys_expiry on idempotency_keys (expires_at)
    where expires_at is not null;
