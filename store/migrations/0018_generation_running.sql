-- A generation's record is written when its model call starts, as
-- 'running', and completed as 'ok' or 'failed' when the call ends (see
-- assistant.Service.Run): the record of a call no longer waits for the
-- model, and a call that fails at the model or loses its client is recorded
-- too. A record left 'running' belongs to a call its server did not finish
-- (it stopped during the call). NOT VALID, then VALIDATE: the check of
-- existing rows does not block writes.
ALTER TABLE generations DROP CONSTRAINT generations_status_check;
ALTER TABLE generations ADD CONSTRAINT generations_status_check
	CHECK (status IN ('running', 'ok', 'failed')) NOT VALID;
ALTER TABLE generations VALIDATE CONSTRAINT generations_status_check;
