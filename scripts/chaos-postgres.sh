#!/usr/bin/env bash
# chaos-postgres.sh runs `drover chaos` on PostgreSQL, restarts included: it
# creates a private PostgreSQL cluster (initdb, pg_ctl) in a temporary
# directory on its own port, points the chaos run at it with a restart
# command (`pg_ctl restart -m immediate`: a crash, no clean shutdown), and
# removes the cluster at the end. It never touches the machine's own
# cluster. Arguments go to drover chaos:
#
#	scripts/chaos-postgres.sh --duration 2m
#
# DROVER_BIN (default ./bin/drover) and CHAOS_PG_PORT (default 5499) adjust
# it. As root it runs PostgreSQL as the postgres user.
set -euo pipefail
bin=$(realpath "${DROVER_BIN:-./bin/drover}")
port=${CHAOS_PG_PORT:-5499}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || pgbin=$(dirname "$(command -v pg_ctl)")
dir=$(mktemp -d /tmp/drover-chaos-pg.XXXXXX)
chmod 755 "$dir"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
	chown postgres "$dir"
	as_pg=(runuser -u postgres --)
fi
pg_ctl=("${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log")
cleanup() {
	"${pg_ctl[@]}" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir" # the postgres user may not enter the caller's directory
"${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust -N >/dev/null
"${pg_ctl[@]}" -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -w start >/dev/null
"${as_pg[@]}" "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE chaos"
"$bin" chaos --store "postgres://postgres@127.0.0.1:$port/chaos?sslmode=disable" \
	--pg-restart "$(printf '%q ' "${pg_ctl[@]}") -m immediate -w restart" "$@"
