-- When a running generation's call is certain to have ended: its server
-- sets it as it inserts the record (the call's timeout left, plus the time
-- its record may take to complete). A record still 'running' past it was
-- left by a server that stopped during the call, and the sweep
-- (assistant.Service.SweepInterrupted) marks it failed. Each call carries
-- its own deadline, so servers with different timeouts can share a
-- database. NULL for records written before this column: the sweep then
-- goes by created_at and its own server's timeout.
ALTER TABLE generations ADD COLUMN deadline timestamptz;
