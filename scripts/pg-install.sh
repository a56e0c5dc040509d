#!/usr/bin/env bash
# pg-install.sh installs a PostgreSQL server (15+) and the pgvector extension
# for it, if they are missing. Debian/Ubuntu only (apt). Idempotent: when
# everything is present it exits at once and prints nothing.
#
# Usage: scripts/pg-install.sh [MAJOR]
#   MAJOR  PostgreSQL major version to provide (default: the highest installed
#          15+ server, or Debian's default `postgresql` when none is installed).
#
# pgvector comes from the `postgresql-MAJOR-pgvector` package when apt has one
# (Debian trixie and later). Otherwise (bookworm) it is built from Debian
# trixie's source package, fetched from the mirror this machine already uses.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
min_major=15

log() { printf 'pg: %s\n' "$*" >&2; }
die() { printf 'pg: error: %s\n' "$*" >&2; exit 1; }

# highest_major prints the highest installed server major version >= 15.
highest_major() {
	local f m best=""
	for f in /usr/lib/postgresql/*/bin/postgres; do
		[[ -x $f ]] || continue
		m=${f#/usr/lib/postgresql/}
		m=${m%%/*}
		if [[ ! $m =~ ^[0-9]+$ ]] || ((m < min_major)); then continue; fi
		if [[ -z $best ]] || ((m > best)); then best=$m; fi
	done
	printf '%s' "$best"
}

server_present() { [[ -x /usr/lib/postgresql/$1/bin/postgres ]]; }

vector_present() {
	[[ -f /usr/share/postgresql/$1/extension/vector.control && -f /usr/lib/postgresql/$1/lib/vector.so ]]
}

# run_logged runs a noisy command with its output in a log file, and shows the
# end of that log when it fails.
run_logged() {
	local out
	out=$(mktemp)
	if ! "$@" >"$out" 2>&1; then
		tail -n 30 "$out" >&2
		rm -f "$out"
		die "failed: $*"
	fi
	rm -f "$out"
}

# Wait for a concurrent apt/dpkg run rather than fail on its lock.
apt_lock=(-o DPkg::Lock::Timeout=600)
updated=""
apt_update() {
	[[ -n $updated ]] && return 0
	log "apt-get update"
	local out
	out=$(mktemp)
	# A broken third-party list must not stop us: a missing package fails
	# clearly later anyway.
	if ! apt-get update -q "${apt_lock[@]}" >"$out" 2>&1; then
		grep -E '^(E|W):' "$out" >&2 || true
		log "warning: apt-get update reported errors; continuing"
	fi
	rm -f "$out"
	updated=1
}

apt_install() {
	log "apt-get install $*"
	run_logged apt-get install -y -q "${apt_lock[@]}" \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

# apt_has prints nothing and succeeds when apt has an installable candidate for
# the package.
apt_has() {
	local cand
	cand=$(apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
	[[ -n $cand && $cand != "(none)" ]]
}

# debian_mirror prints the first URI of an enabled `deb` source for the given
# suite, from deb822 files first, then one-line lists. With "signed-by" as the
# second argument it prints that entry's Signed-By path instead (may be empty).
debian_mirror() {
	local suite=$1 want=${2:-uri} f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		awk -v suite="$suite" -v want="$want" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && enabled != "no" && uri != "") {
					print (want == "uri" ? uri : signed); found = 1; exit
				}
				types = ""; suites = ""; uri = ""; signed = ""; enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^[ \t]/ { next }  # continuation line (e.g. an inline key)
			{
				key = tolower($1); sub(/:$/, "", key)
				val = $0; sub(/^[^:]*:[ \t]*/, "", val)
				if (key == "types") types = val
				else if (key == "suites") suites = val
				else if (key == "uris") { split(val, u, /[ \t]+/); uri = u[1] }
				else if (key == "signed-by" && val ~ /^\//) signed = val
				else if (key == "enabled") enabled = tolower(val)
			}
			END { if (!found) flush() }
		' "$f" | head -n 1 | grep . && return 0
	done
	[[ $want == uri ]] || return 0
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		sed -E 's/#.*//; s/\[[^]]*\]//' "$f" |
			awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }' | grep . && return 0
	done
	return 1
}

need_root() {
	((EUID == 0)) && return 0
	command -v apt-get >/dev/null || die "PostgreSQL $min_major+ and pgvector are needed; install them (no apt-get here)"
	die "$1 is missing and installing needs root; run as root: sudo $0${2:+ $2}
  (it runs: apt-get install $3)"
}

# ensure_server installs the server for MAJOR (or Debian's default when MAJOR is
# empty) and sets MAJOR to the version that is now present.
ensure_server() {
	if [[ -n $MAJOR ]]; then
		((MAJOR >= min_major)) || die "PostgreSQL $MAJOR is too old; $min_major+ is required"
		server_present "$MAJOR" && return 0
		need_root "PostgreSQL $MAJOR" "$MAJOR" "postgresql-$MAJOR"
		apt_update
		apt_install "postgresql-$MAJOR"
		server_present "$MAJOR" || die "postgresql-$MAJOR did not install a server"
		return 0
	fi
	MAJOR=$(highest_major)
	[[ -n $MAJOR ]] && return 0
	need_root "PostgreSQL $min_major+ server" "" "postgresql"
	apt_update
	apt_install postgresql
	MAJOR=$(highest_major)
	[[ -n $MAJOR ]] || die "apt installed no PostgreSQL $min_major+ server (Debian's default is older?); install postgresql-$min_major or newer"
}

# add_trixie_sources adds a deb-src entry for Debian trixie, on the mirror
# this machine already uses for its own release, so that apt can fetch
# pgvector's source package.
add_trixie_sources() {
	local codename uri signed list src
	# shellcheck source=/dev/null
	codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
	[[ -n $codename ]] || die "cannot tell the Debian release (VERSION_CODENAME in /etc/os-release)"
	uri=$(debian_mirror "$codename") || die "no apt source for suite $codename found in /etc/apt; cannot locate the Debian mirror"
	signed=$(debian_mirror "$codename" signed-by)
	if [[ -z $signed && -f /usr/share/keyrings/debian-archive-keyring.gpg ]]; then
		signed=/usr/share/keyrings/debian-archive-keyring.gpg
	fi
	list=/etc/apt/sources.list.d/dealdesk-trixie-src.sources
	src=$(printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main' "$uri")
	[[ -z $signed ]] || src+=$'\n'"Signed-By: $signed"
	if [[ ! -f $list || $(<"$list") != "$src" ]]; then
		log "adding trixie deb-src entry ($list)"
		printf '%s\n' "$src" >"$list"
		updated=""
	fi
}

# build_pgvector builds pgvector from Debian trixie's source package.
build_pgvector() {
	local major=$1 dir pg_config
	add_trixie_sources
	apt_update
	apt_install --no-install-recommends "postgresql-server-dev-$major" dpkg-dev gcc libc6-dev make

	pg_config=/usr/lib/postgresql/$major/bin/pg_config
	[[ -x $pg_config ]] || die "$pg_config missing after installing postgresql-server-dev-$major"

	dir=$(mktemp -d /tmp/dealdesk-pgvector.XXXXXX)
	# shellcheck disable=SC2064 # expand now: dir is local
	trap "rm -rf '$dir'" EXIT
	# Let apt's sandbox user write the download (avoids an "unsandboxed" notice).
	if id _apt >/dev/null 2>&1; then chown _apt "$dir"; fi
	log "fetching pgvector source from trixie"
	(cd "$dir" && run_logged apt-get source -q "${apt_lock[@]}" --download-only pgvector/trixie)
	local dsc
	dsc=$(find "$dir" -maxdepth 1 -name 'pgvector_*.dsc' | head -n 1)
	[[ -n $dsc ]] || die "apt-get source downloaded no pgvector .dsc"
	(cd "$dir" && run_logged dpkg-source -x "$dsc" build)
	log "building $(basename "$dsc" .dsc) for PostgreSQL $major"
	# OPTFLAGS="" drops -march=native so the build runs on any CPU of this arch.
	run_logged make -C "$dir/build" -j"$(nproc)" PG_CONFIG="$pg_config" OPTFLAGS=""
	run_logged make -C "$dir/build" PG_CONFIG="$pg_config" OPTFLAGS="" install
	rm -rf "$dir"
	trap - EXIT
}

ensure_vector() {
	local major=$1
	vector_present "$major" && return 0
	need_root "pgvector for PostgreSQL $major" "$major" \
		"postgresql-$major-pgvector, or on Debian bookworm: postgresql-server-dev-$major dpkg-dev, then build pgvector from source"
	apt_update
	if apt_has "postgresql-$major-pgvector"; then
		apt_install "postgresql-$major-pgvector"
	else
		build_pgvector "$major"
	fi
	vector_present "$major" || die "pgvector install finished but vector.control/vector.so for PostgreSQL $major are missing"
	log "pgvector installed for PostgreSQL $major"
}

main() {
	MAJOR=${1:-}
	[[ -z $MAJOR || $MAJOR =~ ^[0-9]+$ ]] || die "usage: $0 [MAJOR]"
	[[ -n $MAJOR ]] || MAJOR=$(highest_major)
	# Fast path: nothing to do, say nothing.
	if [[ -n $MAJOR ]] && server_present "$MAJOR" && vector_present "$MAJOR"; then
		return 0
	fi
	# When apt knows no pgvector binary package (bookworm, or empty lists), add
	# the trixie source entry before the first update, so one update serves.
	if ((EUID == 0)) && ! apt-cache pkgnames postgresql- 2>/dev/null | grep -q -- '-pgvector$'; then
		add_trixie_sources
	fi
	ensure_server
	ensure_vector "$MAJOR"
}

main "$@"
