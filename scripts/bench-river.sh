#!/usr/bin/env bash
# bench-river.sh runs River (bench/river, its own Go module) and `drover bench`
# interleaved on the same machine and database server, ROUNDS rounds, and
# prints one table of medians and Drover/River ratios:
#
#   PostgreSQL burn-down        River: insert JOBS, then start the client
#                               Drover: bench --prefill (workers paused while filled)
#   PostgreSQL insert-working   both: submit JOBS in batches of 500 from 2 loops while
#                               working, first submit to last completion
#   SQLite, the same two, at synchronous=NORMAL and at FULL
#
# Usage: scripts/bench-river.sh            (from the repository root)
# Environment:
#   BENCH_POSTGRES_URL  a PostgreSQL database the run may fill and clean
#                       (default: the drover_bench database of .ci/postgres.sh's cluster)
#   PG_JOBS, SQLITE_JOBS  jobs per run (default 100000 and 30000)
#   ROUNDS              default 3
#   CASES               which rows, default "pg-burndown pg-insert sqlite-normal-burndown
#                       sqlite-normal-insert sqlite-full-burndown sqlite-full-insert"
# Each run gets a fresh schema (PostgreSQL) or file (SQLite). Drover runs with
# its defaults (2 worker processes × 64 slots over HTTP); River in process with
# riverbench's tuning (MaxWorkers 2,000, fetch cooldown 2 ms, poll 20 ms).
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${BENCH_POSTGRES_URL:-postgres://drover:drover@127.0.0.1:5432/drover_bench?sslmode=disable}
PG_JOBS=${PG_JOBS:-100000}
SQLITE_JOBS=${SQLITE_JOBS:-30000}
ROUNDS=${ROUNDS:-3}
CASES=${CASES:-pg-burndown pg-insert sqlite-normal-burndown sqlite-normal-insert sqlite-full-burndown sqlite-full-insert}

mkdir -p bin
go build -o bin/drover ./cmd/drover
(cd bench/river && go build -o ../../bin/riverbench .)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results # lines: case system tasks_per_second

pgexec() { psql -q "$PG" -c "$1" >/dev/null 2>&1 || true; }

# river CASE ROUND: one River run; prints jobs/s.
river() {
	local c=$1 r=$2 args=()
	case $c in
	pg-*) args=(-store "$PG" -schema "river_bench_$r" -jobs "$PG_JOBS") ;;
	sqlite-normal-*) args=(-store "$tmp/river.db" -sqlite-sync NORMAL -jobs "$SQLITE_JOBS") ;;
	sqlite-full-*) args=(-store "$tmp/river.db" -sqlite-sync FULL -jobs "$SQLITE_JOBS") ;;
	esac
	case $c in *-burndown) args+=(-mode burndown) ;; *) args+=(-mode insert) ;; esac
	bin/riverbench "${args[@]}" -json | sed -n 's/.*"jobs_per_second":\([0-9.]*\).*/\1/p'
	case $c in pg-*) pgexec "DROP SCHEMA IF EXISTS river_bench_$r CASCADE" ;; *) rm -f "$tmp"/river.db* ;; esac
}

# drover CASE ROUND: one drover bench run; prints tasks/s.
drover() {
	local c=$1 r=$2 args=(--samples 1)
	case $c in
	pg-*) args+=(--store "$PG&search_path=drover_bench_$r" --tasks "$PG_JOBS") ;;
	sqlite-normal-*) args+=(--tasks "$SQLITE_JOBS" --server-args=--sqlite-sync=NORMAL) ;;
	sqlite-full-*) args+=(--tasks "$SQLITE_JOBS" --server-args=--sqlite-sync=FULL) ;;
	esac
	case $c in *-burndown) args+=(--prefill) ;; esac
	bin/drover bench "${args[@]}" --json | sed -n 's/.*"tasks_per_second": \([0-9.]*\).*/\1/p'
	case $c in pg-*) pgexec "DROP SCHEMA IF EXISTS drover_bench_$r CASCADE" ;; esac
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
	for c in $CASES; do
		# Alternate which system goes first, so neither always meets a
		# warmer (or busier) machine.
		if (( r % 2 )); then order="river drover"; else order="drover river"; fi
		for sys in $order; do
			v=$($sys "$c" "$r")
			echo "round $r  $c  $sys  ${v:-FAILED}  (load $(cut -d' ' -f1 /proc/loadavg))" >&2
			echo "$c $sys ${v:-0}" >>"$results"
		done
	done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
printf '\n| %s | %s | %s | %s |\n| --- | --- | --- | --- |\n' "case ($ROUNDS rounds, medians)" "River jobs/s" "Drover tasks/s" "Drover/River"
for c in $CASES; do
	rv=$(awk -v c="$c" '$1==c && $2=="river" {print $3}' "$results" | median)
	dv=$(awk -v c="$c" '$1==c && $2=="drover" {print $3}' "$results" | median)
	all_r=$(awk -v c="$c" '$1==c && $2=="river" {printf "%s%.0f", s, $3; s=" / "}' "$results")
	all_d=$(awk -v c="$c" '$1==c && $2=="drover" {printf "%s%.0f", s, $3; s=" / "}' "$results")
	awk -v c="$c" -v rv="$rv" -v dv="$dv" -v ar="$all_r" -v ad="$all_d" \
		'BEGIN {printf "| %s | %.0f (%s) | %.0f (%s) | %.2f× |\n", c, rv, ar, dv, ad, (rv > 0 ? dv / rv : 0)}'
done
