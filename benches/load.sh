#!/usr/bin/env bash
# The load workloads against a release server, as BENCHMARKS.md reports them.
#
#   benches/load.sh                 W1 at N = 50, 200, 500, 1000, then W2 (12 participants)
#   benches/load.sh w1 100 300      W1 at the given N only
#   benches/load.sh w2 12           W2 with the given numbers of participants
#   benches/load.sh storm 2000      the join storm (JOIN= and LEAVE= seconds, default 60 each)
#   benches/load.sh soak            W1 (200) and W2 (12) together for SOAK= seconds (default 3600)
#
# RECORD=1 records the lecture during each W1 run (what recording costs the forwarding path).
# SERVER_BIN (default target/release/tongbu) runs another server build, for same-run A/B
# comparisons of two builds with the same load tool; the server's own environment (for example
# TONGBU_MEDIA_WORKERS) passes through, and SERVER_CPUS gives it more cores than CPU 0.
#
# Each run starts a fresh demo server (its own data directory) pinned to CPU 0 and runs
# tongbu-load pinned to CPU 1 (on a machine with one CPU both share it), counts for $SECS
# seconds (default 20), and prints the tool's JSON line. Needs curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SECS:-20}
PORT=${PORT:-18480}
mode=${1:-all}
shift || true
ns=("$@")

SERVER_BIN=${SERVER_BIN:-target/release/tongbu}
cargo build --release -q -p tongbu -p tongbu-load
ulimit -n "$(ulimit -Hn)"
if [ "$(nproc)" -ge 2 ]; then server_cpu=0; tool_cpu=1; else server_cpu=0; tool_cpu=0; fi
# SERVER_CPUS (a taskset list such as 0,1) gives the server more cores, for several media workers.
server_cpu=${SERVER_CPUS:-$server_cpu}

server_pid=
data=
stop_server() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$data" ]; then rm -rf "$data"; fi
  server_pid=; data=
}
trap stop_server EXIT

start_server() {
  data=$(mktemp -d)
  TONGBU_DATA_DIR="$data" TONGBU_HTTP_ADDR="127.0.0.1:$PORT" RUST_LOG=warn \
    taskset -c "$server_cpu" "$SERVER_BIN" >"$data/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the server did not start; its log:" >&2; cat "$data/server.log" >&2; exit 1
}

# The ws:// URL of the demo's join link for (session key, role), the first one found.
link() {
  curl -fs "http://127.0.0.1:$PORT/api/demo" | python3 -c '
import json, sys
demo, key, role, port = json.load(sys.stdin), sys.argv[1], sys.argv[2], sys.argv[3]
links = demo[key]["links"] if key != "lesson" else demo["links"]
for l in links:
    if l["role"] == role:
        print("ws://127.0.0.1:%s/ws?token=%s" % (port, l["url"].split("token=")[1])); break
' "$1" "$2" "$PORT"
}

# tongbu-load with the given command and flags against the running server, on its own CPU.
tool() {
  taskset -c "$tool_cpu" target/release/tongbu-load "$@" --seconds "$SECS" --server-pid "$server_pid"
}

# RECORD=1: the lecture is recorded while it runs (W1 with and without recording).
record_lecture() {
  local sid
  sid=$(curl -fs "http://127.0.0.1:$PORT/api/demo" | python3 -c 'import json, sys; print(json.load(sys.stdin)["lecture"]["session"]["id"])')
  curl -fs -X POST -H "Authorization: Bearer $(cat "$data/operator.token")" \
    -H 'content-type: application/json' -d '{"on": true}' \
    "http://127.0.0.1:$PORT/api/sessions/$sid/recording" >/dev/null
}

w1() {
  start_server
  if [ -n "${RECORD:-}" ]; then record_lecture; fi
  tool w1 --publisher "$(link lecture host)" --subscriber "$(link lecture observer)" --n "$1"
  if [ -n "${RECORD:-}" ]; then du -sh "$data/recordings" >&2; fi
  stop_server
}

# `n` distinct publishing links of the demo lesson, minted with the server's own CLI: a
# classroom's link is one seat (the same link joined twice is one participant, the newer
# connection replacing the older), so a meeting of n needs n links.
meeting_urls() {
  local sid room url
  read -r sid room < <(curl -fs "http://127.0.0.1:$PORT/api/demo" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["session"]["id"], next(l["classroom"] for l in d["links"] if l["role"] == "classroom"))')
  for i in $(seq 1 "$1"); do
    url=$(TONGBU_DATA_DIR="$data" "$SERVER_BIN" token --session "$sid" --role classroom --classroom "$room" --name "meeting $i")
    printf -- '--url ws://127.0.0.1:%s/ws?token=%s ' "$PORT" "${url##*token=}"
  done
}

w2() {
  start_server
  # shellcheck disable=SC2046 # one --url word pair per participant
  tool w2 $(meeting_urls "$1") --n "$1"
  stop_server
}

# The join storm: N listeners (default 2000) arrive over JOIN seconds (default 60) and leave over
# LEAVE seconds (default 60), while the speaker moves the spotlight every 250 ms.
storm() {
  start_server
  taskset -c "$tool_cpu" target/release/tongbu-load storm --publisher "$(link lecture host)" \
    --subscriber "$(link lecture observer)" --n "$1" --join-seconds "${JOIN:-60}" \
    --leave-seconds "${LEAVE:-60}" --seconds "$SECS" --server-pid "$server_pid" --settle 120
  stop_server
}

# The soak: a lecture of 200 subscribers (W1) and a 12-person meeting (W2) together for SOAK
# seconds (default 3600); every 30 s the server's RSS (KiB), open files, threads and async
# tasks (from /metrics) go to SOAK_CSV (default soak.csv); each workload's JSON line at the end
# (loss over the whole time).
soak() {
  start_server
  local secs=${SOAK:-3600} out=${SOAK_CSV:-soak.csv}
  echo "t_s,rss_kib,open_files,threads,tasks" >"$out"
  (
    t=0
    while [ "$t" -le "$secs" ]; do
      printf '%s,%s,%s,%s,%s\n' "$t" "$(awk '/^VmRSS/{print $2}' "/proc/$server_pid/status")" \
        "$(ls "/proc/$server_pid/fd" | wc -l)" "$(awk '/^Threads/{print $2}' "/proc/$server_pid/status")" \
        "$(curl -fs -H "Authorization: Bearer $(cat "$data/operator.token")" "http://127.0.0.1:$PORT/metrics" |
          awk '/^tongbu_runtime_tasks /{print $2}')" >>"$out"
      sleep 30
      t=$((t + 30))
    done
  ) &
  local sampler=$!
  taskset -c "$tool_cpu" target/release/tongbu-load w1 --publisher "$(link lecture host)" \
    --subscriber "$(link lecture observer)" --n 200 --seconds "$secs" --server-pid "$server_pid" &
  local lecture=$!
  # shellcheck disable=SC2046 # one --url word pair per participant
  taskset -c "$tool_cpu" target/release/tongbu-load w2 $(meeting_urls 12) --n 12 \
    --seconds "$secs" --server-pid "$server_pid" &
  local meeting=$!
  wait "$lecture" "$meeting"
  kill "$sampler" 2>/dev/null || true
  stop_server
}

case "$mode" in
  all) for n in 50 200 500 1000; do w1 "$n"; done; w2 12 ;;
  soak) soak ;;
  storm) for n in "${ns[@]:-2000}"; do storm "$n"; done ;;
  w1) for n in "${ns[@]:-50}"; do w1 "$n"; done ;;
  w2) for n in "${ns[@]:-12}"; do w2 "$n"; done ;;
  *) echo "usage: benches/load.sh [all | w1 N… | w2 N… | storm N… | soak]" >&2; exit 2 ;;
esac
