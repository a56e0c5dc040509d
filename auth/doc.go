// Package auth owns tenants and API keys: creating a tenant, issuing keys that
// carry a tenant, a role and a set of regions, revoking them, and resolving
// the bearer key of a request into the Principal it acts for.
//
// Keys are 32 random bytes shown once at creation; only their SHA-256 is
// stored. Lookups run under PostgreSQL row-level security (see package store).
package auth
