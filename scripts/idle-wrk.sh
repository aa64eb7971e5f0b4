#!/usr/bin/env bash
# Idle heartbeats under an outside load generator: `owp serve` on a fresh database holding
# WORKERS online workers, then wrk (CONNECTIONS keep-alive connections, THREADS threads) sends
# `POST /v1/workers/heartbeat`, each request as the next worker (a different token every time),
# and then `GET /healthz` over the same connections to the same server, ROUNDS times. Prints
# each round's rates and the median of the rounds' ratios heartbeats ÷ /healthz.
#
#   scripts/idle-wrk.sh sqlite
#   scripts/idle-wrk.sh postgres     # a scratch database on PG_URL, dropped at the end
#
# Settings (environment):
#   OWP_BIN      the owp that loads the pool (`owp bench --idle N --idle-load URL`);
#                default target/release/owp
#   SERVE_BIN    the owp that serves (e.g. an older build to compare); default OWP_BIN
#   PG_URL       PostgreSQL server (postgres backend); default
#                postgres://postgres@127.0.0.1:5432/postgres
#   WORKERS=20000 CONNECTIONS=64 THREADS=2 DURATION=5 (seconds each route, each round)
#   WARMUP=5 ROUNDS=7 (short rounds taking turns: one round swings by ±0.15)
#
# Needs wrk (Debian: `apt-get install wrk`) and, for PostgreSQL, psql. The server runs with its
# default settings, except that the anonymous rate limit (which `/healthz` is under) is lifted.
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${1:-sqlite}
owp_bin=${OWP_BIN:-target/release/owp}
serve_bin=${SERVE_BIN:-$owp_bin}
pg_url=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
workers=${WORKERS:-20000}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
seconds=${DURATION:-5}
warmup=${WARMUP:-5}
rounds=${ROUNDS:-7}
lua=scripts/idle-wrk.lua

command -v wrk >/dev/null || { echo "idle-wrk: wrk is required (apt-get install wrk)" >&2; exit 1; }
for bin in "$owp_bin" "$serve_bin"; do
  [ -x "$bin" ] || { echo "idle-wrk: no executable $bin (cargo build --release)" >&2; exit 1; }
done

dir=$(mktemp -d)
server_pid=
pg_db=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_db" ]; then
    psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

case "$backend" in
  sqlite)
    url="sqlite://$dir/idle.db?mode=rwc"
    ;;
  postgres)
    command -v psql >/dev/null || { echo "idle-wrk: psql is required" >&2; exit 1; }
    pg_db="owp_idle_wrk_$$"
    psql -q "$pg_url" -c "CREATE DATABASE $pg_db" >/dev/null
    # The server URL with the scratch database's name in place of its own.
    base=${pg_url%%\?*}
    query=${pg_url#"$base"}
    url="${base%/*}/$pg_db$query"
    ;;
  *)
    echo "usage: $0 [sqlite|postgres]" >&2
    exit 2
    ;;
esac

echo "loading $workers online workers ($backend)…" >&2
"$owp_bin" bench --idle "$workers" --idle-load "$url" >"$dir/tokens"

OWP_DATABASE_URL=$url OWP_ADMIN_TOKEN=idle-wrk-admin-token \
  OWP_RATE_ANONYMOUS_PER_MINUTE=4294967295 \
  "$serve_bin" serve --host 127.0.0.1 --port 0 >"$dir/server.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 1 600); do
  port=$(sed -n 's/.*OWP Pool is listening.*addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/server.log")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "idle-wrk: the server did not start" >&2; cat "$dir/server.log" >&2; exit 1; }
target="http://127.0.0.1:$port"

# One wrk run of `route` for `secs` seconds; prints its requests/s (the rest on stderr).
drive() {
  local route=$1 secs=$2 out
  out=$(wrk -t"$threads" -c"$connections" -d"${secs}s" -s "$lua" "$target" -- \
    "$route" "$threads" "$dir/tokens")
  local line
  line=$(grep '^result ' <<<"$out")
  echo "  $route: ${line#result }" >&2
  local errors=${line#*errors=}
  errors=${errors%% *}
  [ "$errors" = 0 ] || echo "  warning: $errors errors on $route" >&2
  local rate=${line#*requests_per_s=}
  echo "${rate%% *}"
}

# Every worker's first request reads its row and writes its coming online: not measured.
echo "warm-up: ${warmup} s of each route" >&2
drive heartbeat "$warmup" >/dev/null
drive healthz "$warmup" >/dev/null

ratios=()
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds ($seconds s each)" >&2
  hb=$(drive heartbeat "$seconds")
  hz=$(drive healthz "$seconds")
  ratio=$(awk -v a="$hb" -v b="$hz" 'BEGIN { printf "%.2f", a / b }')
  echo "  heartbeats $hb/s, /healthz $hz/s: ${ratio}×" >&2
  ratios+=("$ratio")
done
# How the workers' requests were authenticated: from a remembered row, or by a read.
if command -v curl >/dev/null; then
  curl -fsS -H "X-Admin-Token: idle-wrk-admin-token" "$target/metrics" \
    | grep '^owp_worker_authentications_total' | sed 's/^/  /' >&2 || true
fi
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
  if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
echo "$backend, $workers workers, $connections connections, $threads wrk threads: heartbeats ÷ /healthz ${ratios[*]}, median ${median}× (load average $load)"
