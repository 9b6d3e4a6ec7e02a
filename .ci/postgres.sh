#!/usr/bin/env bash
# postgres.sh brings up a local PostgreSQL for the store's PostgreSQL tests:
# it installs the server if missing, starts the cluster, creates the drover
# role and the drover_test database if absent, and prints the line that
# points the tests at it:
#
#	export DROVER_TEST_POSTGRES_URL=postgres://drover:drover@127.0.0.1:5432/drover_test?sslmode=disable
#
# Use it either way; both are idempotent:
#
#	source .ci/postgres.sh          # sets DROVER_TEST_POSTGRES_URL in this shell
#	eval "$(bash .ci/postgres.sh)"  # progress goes to stderr, only the export to stdout
#
# It runs as root (CI and the dev machines do) and needs no standard input.

# All work happens in a subshell so that, when sourced, neither `set -e` nor a
# failure's exit leaks into the caller's shell.
drover_postgres_setup() (
	set -euo pipefail
	log() { printf 'postgres.sh: %s\n' "$*" >&2; }
	as_postgres() {
		if command -v runuser >/dev/null; then
			runuser -u postgres -- "$@"
		else
			su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
		fi
	}

	if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
		log "installing postgresql"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq postgresql >&2
	fi

	# Use the newest installed server version and its first cluster, creating
	# one if the package came without (e.g. after a purge of the data directory).
	local version cluster
	version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
	cluster=$(pg_lsclusters -h | awk -v v="$version" '$1 == v { print $2; exit }')
	if [ -z "$cluster" ]; then
		cluster=main
		log "creating cluster $version/$cluster"
		pg_createcluster "$version" "$cluster" >&2
	fi

	if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c && $4 == "online" { found = 1 } END { exit !found }'; then
		log "starting cluster $version/$cluster"
		pg_ctlcluster "$version" "$cluster" start >&2
	fi
	local port
	port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $3 }')
	for _ in $(seq 1 60); do
		pg_isready -q -h 127.0.0.1 -p "$port" && break
		sleep 0.5
	done
	pg_isready -h 127.0.0.1 -p "$port" >&2

	psql_admin() { as_postgres psql -p "$port" -X -q -v ON_ERROR_STOP=1 -tA "$@"; }
	if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'drover'")" != 1 ]; then
		log "creating role drover"
		psql_admin -c "CREATE ROLE drover LOGIN SUPERUSER PASSWORD 'drover'"
	fi
	if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'drover_test'")" != 1 ]; then
		log "creating database drover_test"
		as_postgres createdb -p "$port" -O drover drover_test
	fi

	echo "export DROVER_TEST_POSTGRES_URL='postgres://drover:drover@127.0.0.1:${port}/drover_test?sslmode=disable'"
)

if drover_postgres_export=$(drover_postgres_setup); then
	eval "$drover_postgres_export"
	echo "$drover_postgres_export"
	unset drover_postgres_export
	unset -f drover_postgres_setup
else
	unset drover_postgres_export
	unset -f drover_postgres_setup
	echo "postgres.sh: failed to set up PostgreSQL" >&2
	# return when sourced, exit when run.
	return 1 2>/dev/null || exit 1
fi
