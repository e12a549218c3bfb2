-- Only the confirmation outbox keeps a cursor here (projections are inline): name the
-- table for what it holds.
alter table projection_cursors rename to outbox_cursors;
