-- The records still 'running' (0018), by tenant and age, for the sweep
-- that marks failed the calls whose server stopped during them
-- (assistant.Service.SweepInterrupted). Partial: it holds only the calls
-- in flight, so the sweep reads a handful of entries instead of a tenant's
-- whole history.
CREATE INDEX generations_running ON generations (tenant_id, created_at) WHERE status = 'running';
