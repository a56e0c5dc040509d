// Package store owns the PostgreSQL connection pool, the embedded schema
// migrations and the tenant-scoped transaction that every query of tenant
// data runs in.
//
// Tenancy is enforced twice: the application passes the caller's tenant to
// every query, and PostgreSQL row-level security policies compare each row's
// tenant_id with the transaction-local setting app.tenant_id that InTenant
// sets. The application connects as a role without SUPERUSER or BYPASSRLS
// (CheckRole refuses anything else), and every tenant-owned table has FORCE
// ROW LEVEL SECURITY so that even the table owner is subject to the policies.
package store
