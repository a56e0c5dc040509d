// Package cli implements the dealdesk command: configuration from flags and
// DEALDESK_* environment variables, validated at start, and the subcommands
// (serve, migrate, keys, tenants, audit, demo, version) that wire the packages
// together. cmd/dealdesk only calls Main.
package cli
