#!/usr/bin/env bash
# pg.sh runs DealDesk's private PostgreSQL + pgvector cluster for development,
# tests and benchmarks. The cluster listens on 127.0.0.1 only and keeps its
# data, socket and logs in one directory.
#
# Usage: scripts/pg.sh COMMAND
#   up        install what is missing, create and start the cluster, bootstrap
#             role and databases; fast and silent when all is in place
#   env       print `export` lines for DEALDESK_DATABASE_URL and
#             DEALDESK_TEST_DATABASE_URL (use: eval "$(scripts/pg.sh env)")
#   down      stop the cluster (fast shutdown); fine if it is not running
#   status    running or not, version, data dir, port, pgvector version
#             (exit status 3 when not running)
#   psql ...  psql as the superuser into the dealdesk database
#   destroy   stop the cluster and delete its data directory
#
# Environment:
#   DEALDESK_DATABASE_URL  when set to anything but this cluster's URL, an
#                          external database is used and `up` does nothing
#   DEALDESK_PGDATA        data directory (default <repo>/.data/pg; when run as
#                          root and user postgres cannot reach the repo,
#                          /var/tmp/dealdesk-pg-<hash of repo path>)
#   DEALDESK_PGPORT        port on 127.0.0.1 (default 54329)
#
# As root the cluster runs as the OS user postgres (Postgres refuses root);
# otherwise as the current user. The superuser role is named after that OS
# user and logs in over the unix socket only (peer). The application role
# `dealdesk` (password `dealdesk`, CREATEDB, not superuser, no BYPASSRLS)
# owns the databases `dealdesk` and `dealdesk_template`; the latter is a
# template with the extensions preinstalled, which tests clone with
# `CREATE DATABASE x TEMPLATE dealdesk_template`.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(dirname "$script_dir")
port=${DEALDESK_PGPORT:-54329}
role=dealdesk
extensions=(vector pg_trgm)

log() { printf 'pg: %s\n' "$*" >&2; }
die() { printf 'pg: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'pg: %s\n' "$*"; }

if [[ ! $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
	die "DEALDESK_PGPORT=$port is not a port number"
fi

local_url() { printf 'postgres://%s:%s@127.0.0.1:%s/%s?sslmode=disable' "$role" "$role" "$port" "$1"; }

# external reports whether DEALDESK_DATABASE_URL names a database other than
# this cluster (a URL exported earlier by `env` still means this cluster).
external() { [[ -n ${DEALDESK_DATABASE_URL:-} && $DEALDESK_DATABASE_URL != "$(local_url "$role")" ]]; }

short_hash() { printf '%s' "$1" | sha256sum | cut -c1-8; }

# resolve sets datadir, owner (the OS user the cluster runs as), sockdir and
# relocated (non-empty when the default data dir moved to /var/tmp).
resolve() {
	relocated=""
	if ((EUID == 0)); then owner=postgres; else owner=$(id -un); fi
	if [[ -n ${DEALDESK_PGDATA:-} ]]; then
		datadir=$DEALDESK_PGDATA
		[[ $datadir == /* ]] || datadir=$PWD/$datadir
	else
		datadir=$repo/.data/pg
		if ((EUID == 0)) && id postgres >/dev/null 2>&1 &&
			! (cd / && runuser -u postgres -- test -x "$repo"); then
			datadir=/var/tmp/dealdesk-pg-$(short_hash "$repo")
			relocated="$repo is not reachable by user postgres"
		fi
	fi
	if [[ -f $datadir/PG_VERSION ]]; then
		local o
		o=$(stat -c %U "$datadir")
		if ((EUID == 0)); then
			[[ $o != root ]] || die "$datadir is owned by root; Postgres cannot run as root"
			owner=$o
		elif [[ $o != "$owner" ]]; then
			die "$datadir belongs to user $o; run this as $o or as root"
		fi
	fi
	# A unix socket path must fit in 107 bytes.
	if ((${#datadir} <= 80)); then
		sockdir=$datadir
	else
		sockdir=/tmp/dealdesk-pg-sock-$(short_hash "$datadir")
	fi
}

# as_owner runs a command as the cluster's OS user, from / so that an
# unreadable working directory (e.g. under /root) does not matter.
as_owner() {
	if ((EUID == 0)); then
		(cd / && runuser -u "$owner" -- "$@")
	else
		"$@"
	fi
}

highest_major() {
	local f m best=""
	for f in /usr/lib/postgresql/*/bin/postgres; do
		[[ -x $f ]] || continue
		m=${f#/usr/lib/postgresql/}
		m=${m%%/*}
		if [[ ! $m =~ ^[0-9]+$ ]] || ((m < 15)); then continue; fi
		if [[ -z $best ]] || ((m > best)); then best=$m; fi
	done
	printf '%s' "$best"
}

# pick_bindir sets major and bindir: the cluster's own version when it exists,
# else the highest installed server.
pick_bindir() {
	if [[ -f $datadir/PG_VERSION ]]; then
		major=$(<"$datadir/PG_VERSION")
	else
		major=$(highest_major)
	fi
	bindir=/usr/lib/postgresql/$major/bin
	[[ -n $major && -x $bindir/postgres ]] || die "no PostgreSQL ${major:-15+} server installed; run scripts/pg-install.sh"
}

pidfile() { printf '%s/postmaster.pid' "$datadir"; }

# running reports whether this data dir's postmaster is alive (what
# `pg_ctl status` checks, without needing to switch user).
running() {
	local pid
	[[ -f $(pidfile) ]] || return 1
	pid=$(head -n 1 "$(pidfile)")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# pid_field prints line N of postmaster.pid (4 = port, 5 = socket dir).
pid_field() { sed -n "${1}p" "$(pidfile)"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# su_psql runs psql as the superuser over the running cluster's socket.
su_psql() {
	as_owner "$bindir/psql" -X -v ON_ERROR_STOP=1 -h "$(pid_field 5)" -p "$(pid_field 4)" -U "$owner" "$@"
}

# desired_conf prints the settings file this script manages. Sized for a small
# box used for tests and benchmarks (the reference is 2 cores, 24 GiB).
desired_conf() {
	local mem_mb cpus par buffers maint
	mem_mb=$(awk '$1 == "MemTotal:" { print int($2 / 1024) }' /proc/meminfo)
	cpus=$(nproc)
	par=$((cpus > 1 ? cpus - 1 : 0))
	((par <= 4)) || par=4
	# shared_buffers: a sixth of memory, 256 MB to 8 GB. The HNSW index of
	# 1M chunks is about 2 GB; with 1 GB of buffers its pages kept being
	# evicted and vector search at ef_search 400 took p50 5.0 ms, p99 13.5
	# ms, against 3.7 and 7.4 ms with 4 GB (make bench, 24 GiB machine).
	buffers=$((mem_mb / 6))
	((buffers >= 256)) || buffers=256
	((buffers <= 8192)) || buffers=8192
	buffers=${buffers}MB
	if ((mem_mb >= 8192)); then maint=1GB; else maint=256MB; fi
	cat <<EOF
# Managed by scripts/pg.sh (rewritten by \`up\` when it differs; a change
# restarts the cluster). Override with ALTER SYSTEM (postgresql.auto.conf).
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockdir'
max_connections = 200
shared_buffers = $buffers
maintenance_work_mem = $maint
work_mem = 16MB
effective_cache_size = $((mem_mb / 2))MB
max_parallel_workers_per_gather = $par
max_parallel_maintenance_workers = $par
random_page_cost = 1.1
max_wal_size = 4GB
# A dev cluster: a crash may lose the last few commits, never consistency.
synchronous_commit = off
# JIT compiles add latency to large queries and noise to benchmarks.
jit = off
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = on
log_directory = 'log'
log_filename = 'postgresql-%a.log'
log_truncate_on_rotation = on
log_rotation_age = 1d
log_rotation_size = 0
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

show_logs() {
	local f newest=""
	for f in "$datadir"/log/*.log; do
		if [[ -f $f && (-z $newest || $f -nt $newest) ]]; then newest=$f; fi
	done
	for f in "$datadir/startup.log" "$newest"; do
		if [[ -n $f && -f $f ]]; then
			log "--- $f"
			tail -n 20 "$f" >&2
		fi
	done
	return 0
}

pg_ctl_start() {
	local action=$1
	if [[ $sockdir != "$datadir" ]]; then
		mkdir -p "$sockdir"
		chmod 0700 "$sockdir"
		((EUID != 0)) || chown "$owner:" "$sockdir"
	fi
	if ! as_owner "$bindir/pg_ctl" -D "$datadir" -l "$datadir/startup.log" -w -t 120 -s "$action" -m fast; then
		show_logs
		die "PostgreSQL did not $action; logs above"
	fi
}

ensure_port_free() {
	port_in_use "$port" || return 0
	die "port $port on 127.0.0.1 is in use by another process (not this cluster: $datadir); stop it or set DEALDESK_PGPORT"
}

initdb_cluster() {
	[[ -z $relocated ]] || log "$relocated; using $datadir"
	if [[ ! -d $datadir ]]; then
		if ! { mkdir -p "$(dirname "$datadir")" && mkdir -m 0700 "$datadir"; } 2>/dev/null; then
			die "cannot create $datadir; set DEALDESK_PGDATA to a writable directory"
		fi
	fi
	if ((EUID == 0)); then
		# Our own default parent: make sure it is traversable whatever the umask.
		[[ -n ${DEALDESK_PGDATA:-} || -n $relocated ]] || chmod 0755 "$repo/.data"
		chown "$owner:" "$datadir"
	fi
	as_owner test -w "$datadir" || die "user $owner cannot write $datadir; set DEALDESK_PGDATA to a directory it can reach"
	local locale=C
	if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale=C.UTF-8; fi
	log "creating cluster in $datadir (PostgreSQL $major, owner $owner)"
	local out
	if ! out=$(as_owner "$bindir/initdb" -D "$datadir" -E UTF8 --locale="$locale" \
		--auth-local=peer --auth-host=scram-sha-256 2>&1); then
		printf '%s\n' "$out" >&2
		die "initdb failed"
	fi
}

# ensure_conf writes the managed settings; it reports (status 0) whether they
# changed.
ensure_conf() {
	local conf=$datadir/dealdesk.conf main=$datadir/postgresql.conf want changed=1
	want=$(desired_conf)
	if [[ ! -f $conf || $(<"$conf") != "$want" ]]; then
		printf '%s\n' "$want" | as_owner tee "$conf" >/dev/null
		changed=0
	fi
	if ! grep -qx "include 'dealdesk.conf'" "$main"; then
		printf "\n# Settings managed by scripts/pg.sh.\ninclude 'dealdesk.conf'\n" | as_owner tee -a "$main" >/dev/null
		changed=0
	fi
	return "$changed"
}

# bootstrapped checks, as the application role over TCP (which also proves
# that the URL from `env` works), that role, databases and extensions are as
# `bootstrap` leaves them. It prints the running server's version.
bootstrapped() {
	local names
	names=$(printf "'%s'," "${extensions[@]}")
	PGCONNECT_TIMEOUT=5 "$bindir/psql" -X -At -F '|' \
		"host=127.0.0.1 port=$port user=$role password=$role dbname=$role sslmode=disable" \
		-c "SELECT current_setting('server_version'),
		  EXISTS (SELECT FROM pg_roles WHERE rolname = '$role' AND rolcanlogin AND rolcreatedb
		          AND NOT rolsuper AND NOT rolbypassrls AND NOT rolcreaterole)
		  AND (SELECT proleakproof FROM pg_proc WHERE oid = 'ts_match_vq(tsvector, tsquery)'::regprocedure)
		  AND (SELECT count(*) FROM pg_database d
		       WHERE d.datname IN ('$role', '${role}_template')
		         AND pg_get_userbyid(d.datdba) = '$role'
		         AND d.datistemplate = (d.datname = '${role}_template')
		         AND shobj_description(d.oid, 'pg_database') IS NOT DISTINCT FROM
		             (SELECT 'extensions (scripts/pg.sh): ' || string_agg(name || ' ' || default_version, ', ' ORDER BY name)
		              FROM pg_available_extensions WHERE name IN (${names%,}))) = 2" 2>/dev/null
}

# bootstrap creates or repairs role, databases and extensions, idempotently.
# Each database's comment records its extension versions, so `bootstrapped`
# can see an outdated extension without connecting to the template.
bootstrap() {
	local ext sql
	sql=""
	for ext in "${extensions[@]}"; do
		sql+="CREATE EXTENSION IF NOT EXISTS $ext;"$'\n'"ALTER EXTENSION $ext UPDATE;"$'\n'
	done
	# Row-level security lets the planner use an index for a condition only
	# when its operator is leakproof. tsvector @@ tsquery (ts_match_vq) is not
	# marked so, which turns every lexical search into a scan of the tenant's
	# chunks; it reveals nothing but its result, so mark it (superuser only).
	sql+="ALTER FUNCTION ts_match_vq(tsvector, tsquery) LEAKPROOF;"$'\n'
	local names
	names=$(printf "'%s'," "${extensions[@]}")
	sql+="SELECT 'extensions (scripts/pg.sh): ' || string_agg(extname || ' ' || extversion, ', ' ORDER BY extname) AS stamp
FROM pg_extension WHERE extname IN (${names%,}) \\gset"
	su_psql -q -d postgres >/dev/null <<EOF
SET client_min_messages = warning;
SELECT 'CREATE ROLE $role' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') \\gexec
ALTER ROLE $role LOGIN PASSWORD '$role' NOSUPERUSER NOBYPASSRLS NOCREATEROLE CREATEDB;
SELECT 'CREATE DATABASE $role OWNER $role' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$role') \\gexec
SELECT 'CREATE DATABASE ${role}_template OWNER $role' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${role}_template') \\gexec
ALTER DATABASE $role OWNER TO $role;
ALTER DATABASE ${role}_template OWNER TO $role;
\\connect $role
SET client_min_messages = warning;
$sql
COMMENT ON DATABASE $role IS :'stamp';
\\connect ${role}_template
SET client_min_messages = warning;
$sql
COMMENT ON DATABASE ${role}_template IS :'stamp';
ALTER DATABASE ${role}_template IS_TEMPLATE true;
EOF
}

cmd_up() {
	if external; then
		log "using the external database from DEALDESK_DATABASE_URL; nothing to do"
		return 0
	fi
	resolve
	local want_major=""
	[[ ! -f $datadir/PG_VERSION ]] || want_major=$(<"$datadir/PG_VERSION")
	bash "$script_dir/pg-install.sh" ${want_major:+"$want_major"}
	resolve # pg-install may just have created the postgres user
	[[ -d $datadir ]] || mkdir -p "$(dirname "$datadir")" 2>/dev/null || true

	local said=""
	# Serialise concurrent `up`s (e.g. parallel make targets) on one cluster.
	local lock
	lock=$(dirname "$datadir")/.$(basename "$datadir").lock
	if [[ -w $(dirname "$lock") ]]; then
		exec 9>"$lock"
		flock 9
	fi
	# Fail before creating anything when the port belongs to someone else.
	running || ensure_port_free
	if [[ ! -f $datadir/PG_VERSION ]]; then
		pick_bindir
		initdb_cluster
		said=1
	fi
	pick_bindir
	local conf_changed=""
	if ensure_conf; then conf_changed=1; fi
	if running; then
		if [[ -n $conf_changed ]]; then
			[[ $(pid_field 4) == "$port" ]] || ensure_port_free
			log "settings changed; restarting"
			pg_ctl_start restart
			said=1
		fi
	else
		ensure_port_free
		pg_ctl_start start
		said=1
	fi

	local state version
	if ! state=$(bootstrapped) || [[ ${state#*|} != t ]]; then
		log "bootstrapping role $role and databases $role, ${role}_template"
		bootstrap
		state=$(bootstrapped) || die "bootstrap done but $role cannot log in over TCP on port $port"
		[[ ${state#*|} == t ]] || die "bootstrap done but the check still fails"
		said=1
	fi
	version=${state%%|*}
	if [[ $("$bindir/postgres" --version) != *" $version" ]]; then
		log "note: running server is $version but $("$bindir/postgres" --version) is installed; restart to use it: scripts/pg.sh down && scripts/pg.sh up"
	fi
	[[ ! -e /dev/fd/9 ]] || flock -u 9
	[[ -z $said ]] || log "ready: PostgreSQL $version on 127.0.0.1:$port, data in $datadir; eval \"\$(scripts/pg.sh env)\""
}

shquote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

cmd_env() {
	if external; then
		printf 'export DEALDESK_DATABASE_URL=%s\n' "$(shquote "$DEALDESK_DATABASE_URL")"
		if [[ -n ${DEALDESK_TEST_DATABASE_URL:-} ]]; then
			printf 'export DEALDESK_TEST_DATABASE_URL=%s\n' "$(shquote "$DEALDESK_TEST_DATABASE_URL")"
		else
			printf '# external DEALDESK_DATABASE_URL: set DEALDESK_TEST_DATABASE_URL yourself (a maintenance database where the role may CREATE DATABASE)\n'
		fi
		return 0
	fi
	printf 'export DEALDESK_DATABASE_URL=%s\n' "$(shquote "$(local_url "$role")")"
	printf 'export DEALDESK_TEST_DATABASE_URL=%s\n' "$(shquote "$(local_url postgres)")"
}

stop_cluster() {
	running || return 0
	local major
	major=$(<"$datadir/PG_VERSION")
	if [[ -x /usr/lib/postgresql/$major/bin/pg_ctl ]]; then
		as_owner "/usr/lib/postgresql/$major/bin/pg_ctl" -D "$datadir" -w -t 120 -s stop -m fast
	else
		# Binaries gone: a fast shutdown is SIGINT to the postmaster.
		local pid i
		pid=$(pid_field 1)
		kill -INT "$pid"
		for ((i = 0; i < 1200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	log "stopped ($datadir)"
}

cmd_down() {
	resolve
	[[ -d $datadir ]] || return 0
	stop_cluster
}

cmd_destroy() {
	resolve
	if [[ -d $datadir ]]; then
		if [[ ! -f $datadir/PG_VERSION && -n $(ls -A "$datadir") ]]; then
			die "refusing to delete $datadir: not a PostgreSQL data directory"
		fi
		stop_cluster
		rm -rf "$datadir"
		log "deleted $datadir"
	fi
	[[ $sockdir == "$datadir" ]] || rm -rf "$sockdir"
	rm -f "$(dirname "$datadir")/.$(basename "$datadir").lock"
}

cmd_status() {
	resolve
	! external || say "DEALDESK_DATABASE_URL points to an external database; local cluster:"
	if [[ ! -f $datadir/PG_VERSION ]]; then
		say "no cluster in $datadir (run: scripts/pg.sh up)"
		return 3
	fi
	pick_bindir
	local available
	available=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "/usr/share/postgresql/$major/extension/vector.control" 2>/dev/null || true)
	if ! running; then
		say "not running"
		say "data dir $datadir (PostgreSQL $major), port $port"
		say "pgvector available: ${available:-not installed}"
		return 3
	fi
	local line version installed
	line=$(su_psql -At -F '|' -d "$role" -c "SELECT current_setting('server_version'),
		coalesce((SELECT extversion FROM pg_extension WHERE extname = 'vector'), 'not installed')")
	IFS='|' read -r version installed <<<"$line"
	say "running: PostgreSQL $version, pid $(pid_field 1)"
	say "data dir $datadir, logs in $datadir/log"
	say "listening on 127.0.0.1:$(pid_field 4), socket in $(pid_field 5)"
	say "pgvector $installed in database $role (available: ${available:-?})"
	[[ $(pid_field 4) == "$port" ]] || say "note: DEALDESK_PGPORT is $port; run scripts/pg.sh up to move the cluster there"
}

cmd_psql() {
	resolve
	if [[ ! -f $datadir/PG_VERSION ]] || ! running; then die "not running (run: scripts/pg.sh up)"; fi
	pick_bindir
	if ((EUID == 0)); then
		# Keep the working directory for relative paths (-f file) if possible.
		runuser -u "$owner" -- test -x . || cd /
		runuser -u "$owner" -- "$bindir/psql" -h "$(pid_field 5)" -p "$(pid_field 4)" -U "$owner" -d "$role" "$@"
	else
		"$bindir/psql" -h "$(pid_field 5)" -p "$(pid_field 4)" -U "$owner" -d "$role" "$@"
	fi
}

usage() {
	sed -n '/^# Usage:/,/^# *$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

cmd=${1:-}
[[ $# -eq 0 ]] || shift
case $cmd in
up | env | down | status | destroy | psql) "cmd_$cmd" "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
