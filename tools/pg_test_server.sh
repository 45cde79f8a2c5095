#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: `start` runs initdb in a temp dir as the `postgres`
# user (initdb refuses root), starts it with pg_ctl on a free 127.0.0.1 port (its unix socket in
# the temp dir too), creates the database `anneal_test`, and prints the connection URL. The URL
# and the data dir are also written to $ANNEAL_PG_STATE (default /tmp/anneal_pg_test.env) so
# `stop` can find the cluster.
#   eval "$(tools/pg_test_server.sh start)"   # exports ANNEAL_TEST_PG_URL
#   tools/pg_test_server.sh stop
#   tools/pg_test_server.sh bounce 3           # down for 3 s, then back on the same port
set -euo pipefail
state="${ANNEAL_PG_STATE:-/tmp/anneal_pg_test.env}"
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  echo "pg_test_server: no PostgreSQL binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2
  exit 1
fi

as_pg() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  # Ask the kernel for a free port: bind to port 0 and read back what it chose.
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}

start() {
  # Two test processes starting at once must share one cluster, not race for the state file.
  # (The server must not inherit fd 9: it would hold the lock for as long as it runs.)
  exec 9>"$state.lock"
  flock -w 120 9 || { echo "pg_test_server: another start holds $state.lock" >&2; exit 1; }
  if [[ -f "$state" ]]; then
    # shellcheck disable=SC1090
    source "$state"
    if as_pg "$bindir/pg_ctl" -D "$ANNEAL_PG_DIR/data" status >/dev/null 2>&1; then
      echo "export ANNEAL_TEST_PG_URL=$ANNEAL_TEST_PG_URL"
      return 0
    fi
  fi
  local dir port
  dir="$(mktemp -d /tmp/anneal_pg.XXXXXX)"
  chmod 755 "$dir"
  [[ "$(id -u)" == 0 ]] && chown postgres: "$dir"
  as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null 2>&1 9>&-; then
      break
    fi
    if [[ $attempt == 5 ]]; then cat "$dir/server.log" >&2; exit 1; fi
  done
  as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres anneal_test
  local url="postgres://postgres@127.0.0.1:$port/anneal_test"
  printf 'ANNEAL_PG_DIR=%q\nANNEAL_TEST_PG_URL=%q\n' "$dir" "$url" >"$state"
  echo "export ANNEAL_TEST_PG_URL=$url"
}

stop() {
  [[ -f "$state" ]] || { echo "pg_test_server: nothing to stop ($state missing)" >&2; return 0; }
  # shellcheck disable=SC1090
  source "$state"
  as_pg "$bindir/pg_ctl" -D "$ANNEAL_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$ANNEAL_PG_DIR" "$state" "$state.lock"
}

# Cut the server off for SECONDS and bring it back on the same port and data (network-cut tests).
bounce() {
  # shellcheck disable=SC1090
  source "$state"
  local port="${ANNEAL_TEST_PG_URL##*:}"
  port="${port%%/*}"
  as_pg "$bindir/pg_ctl" -D "$ANNEAL_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
  sleep "${1:-3}"
  as_pg "$bindir/pg_ctl" -D "$ANNEAL_PG_DIR/data" -l "$ANNEAL_PG_DIR/server.log" -w -t 30 \
    -o "-h 127.0.0.1 -p $port -k $ANNEAL_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null 2>&1 9>&-
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  bounce) bounce "${2:-3}" ;;
  *) echo "usage: $0 start|stop|bounce [SECONDS]" >&2; exit 2 ;;
esac
