#!/usr/bin/env bash
# `make bench`: measure privatelink-operator's scale targets against a real kube-apiserver and
# privatelink-sim (release builds), print a summary table and write raw results to target/bench/.
#
# Scenarios (driver: tests/bench/bench.rs; method and results: tests/bench/README.md):
#   sim     simulator throughput, sim pinned to core 0 (taskset), load generator on core 1
#   burst   BENCH_N objects at once, --qps 1000, Creating 5 s, 30 ms per call (issue 16 C) -> Ready:
#           overhead p50/p90/p99/max, calls, patches, CPU; then steady state for
#           BENCH_STEADY_INTERVALS x BENCH_RESYNC s
#   burst3000 the same with BENCH_BURST3000_N (3000) objects, no steady state
#   shipped BENCH_SHIPPED_N (1000) objects at once with the shipped --qps 20 --burst 40, Creating 5 s,
#           30 ms per call (issue 16 A): calls per object to Ready, all Ready and median vs the goals
#   fair    the shipped scenario again, plus 10 s into the burst one object in another namespace of the
#           same account and one of another account (issue 16 B): each one's create -> Ready
#   limited BENCH_LIMITED_N (10000) objects, the simulator enforcing 100 calls/s, --qps 100 (issue 16 F):
#           all Ready vs 1.25 x (N*2/100 + Creating), share of throttled calls
#   rate    BENCH_RATE_N objects with --qps BENCH_RATE_QPS: request rate seen by the simulator
#   conc    BENCH_CONC_N objects, --concurrency 4, 200 ms simulated latency: in-flight bound
#   approval BENCH_APPROVAL_N objects with connectionApproval lists, shipped --qps/--burst: steady
#           ListVpcEndpointConnections per object per connection-poll interval (budget: <= 1)
#   scale   BENCH_SCALE_N objects (fresh apiserver/etcd): RSS after all Ready, steady state
#
# Env: BENCH_N=1000 BENCH_SCALE_N=10000 BENCH_QUICK=1 (N=200, SCALE_N=1000, short steady state)
#      BENCH_SCENARIOS="sim burst rate conc approval scale" BENCH_APPROVAL_N=200 BENCH_CREATE_SECONDS=3 BENCH_RESYNC=60
#      BENCH_QPS=1000 BENCH_BURST=2000 BENCH_CONCURRENCY=8 (operator flags of burst and scale)
#      BENCH_RUNS=3: runs of each short scenario (burst, burst3000, shipped, fair; 1-2 min each), written
#      as LABEL.json, LABEL-r2.json, ...; the summary's A-C rows are the medians over the runs
#      BENCH_TESTENV_DIR (default target/bench/testenv; a testenv of its own, torn down by PID)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

if [[ -n "${BENCH_QUICK:-}" ]]; then
  : "${BENCH_N:=200}" "${BENCH_SCALE_N:=1000}" "${BENCH_RESYNC:=20}" "${BENCH_STEADY_INTERVALS:=1}"
  : "${BENCH_RATE_N:=100}" "${BENCH_CONC_N:=40}" "${BENCH_SIM_SECONDS:=3}" "${BENCH_RUNS:=1}"
fi
BENCH_N="${BENCH_N:-1000}"
BENCH_SCALE_N="${BENCH_SCALE_N:-10000}"
BENCH_SCENARIOS="${BENCH_SCENARIOS:-sim burst burst3000 shipped fair rate conc approval scale limited}"
BENCH_CREATE_SECONDS="${BENCH_CREATE_SECONDS:-3}"
BENCH_RESYNC="${BENCH_RESYNC:-60}"
BENCH_STEADY_INTERVALS="${BENCH_STEADY_INTERVALS:-2}"
BENCH_SCALE_STEADY_INTERVALS="${BENCH_SCALE_STEADY_INTERVALS:-1}"
BENCH_QPS="${BENCH_QPS:-1000}"
BENCH_BURST="${BENCH_BURST:-2000}"
BENCH_CONCURRENCY="${BENCH_CONCURRENCY:-8}"
BENCH_RATE_N="${BENCH_RATE_N:-300}"
BENCH_RATE_QPS="${BENCH_RATE_QPS:-50}"
BENCH_CONC_N="${BENCH_CONC_N:-100}"
BENCH_APPROVAL_N="${BENCH_APPROVAL_N:-200}"
BENCH_SHIPPED_N="${BENCH_SHIPPED_N:-1000}"
BENCH_BURST3000_N="${BENCH_BURST3000_N:-3000}"
BENCH_LIMITED_N="${BENCH_LIMITED_N:-10000}"
BENCH_SIM_SECONDS="${BENCH_SIM_SECONDS:-10}"
BENCH_RUNS="${BENCH_RUNS:-3}"
OUT="$ROOT/target/bench"
export TESTENV_DIR="${BENCH_TESTENV_DIR:-$OUT/testenv}"
export SIM_BIN="$ROOT/target/release/privatelink-sim"
export TESTENV_NO_CARGO=1
OPERATOR_BIN="${BENCH_OPERATOR_BIN:-$ROOT/target/release/privatelink-operator}" # a wrapper (e.g. a heap profiler) may stand in
DRIVER="$ROOT/target/release/examples/bench"
SIMBENCH="$ROOT/target/release/examples/sim_bench"

log() { echo "bench: $*" >&2; }
want() { [[ " $BENCH_SCENARIOS " == *" $1 "* ]]; }

mkdir -p "$OUT"
log "building release binaries (operator, sim, bench drivers)"
cargo build --release --quiet --bins --example bench --example sim_bench

# ---- machine ---------------------------------------------------------------------------------
python3 - "$OUT/machine.json" <<'PY'
import json, os, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
json.dump({"nproc": os.cpu_count(), "cpu": cpu, "mem_mib": mem, "kernel": platform.release(),
           "loadavg": open("/proc/loadavg").read().strip(),
           "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()},
          open(sys.argv[1], "w"), indent=2)
PY
log "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- cleanup: everything we start is stopped by PID ------------------------------------------
SIM_PID=""
STARTED_TESTENV=""
cleanup() {
  if [[ -n "$SIM_PID" ]] && kill -0 "$SIM_PID" 2>/dev/null; then kill -TERM "$SIM_PID" 2>/dev/null || true; fi
  if [[ -n "$STARTED_TESTENV" ]]; then "$ROOT/tests/scripts/testenv-down.sh" >&2 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- sim throughput ----------------------------------------------------------------------------
if want sim; then
  log "sim throughput: privatelink-sim on core 0, load generator on core 1, ${BENCH_SIM_SECONDS}s"
  port_file="$OUT/sim-throughput.port"
  rm -f "$port_file"
  taskset -c 0 "$SIM_BIN" --listen 127.0.0.1:0 --port-file "$port_file" --log-level warn \
    >"$OUT/sim-throughput.log" 2>&1 &
  SIM_PID=$!
  for _ in $(seq 100); do [[ -s "$port_file" ]] && break; sleep 0.1; done
  [[ -s "$port_file" ]] || { log "the simulator did not start (see $OUT/sim-throughput.log)"; exit 1; }
  taskset -c 1 "$SIMBENCH" "http://127.0.0.1:$(cat "$port_file")" "$BENCH_SIM_SECONDS" 64 \
    | tee "$OUT/sim-throughput.txt" >&2
  kill -TERM "$SIM_PID" 2>/dev/null || true
  wait "$SIM_PID" 2>/dev/null || true
  SIM_PID=""
fi

# ---- testenv -------------------------------------------------------------------------------------
testenv_up() {
  log "starting a testenv of its own in $TESTENV_DIR"
  STARTED_TESTENV=1
  "$ROOT/tests/scripts/testenv-up.sh" >"$OUT/testenv-up.log" 2>&1 || {
    tail -n 30 "$OUT/testenv-up.log" >&2
    exit 1
  }
  # shellcheck disable=SC1091
  source "$TESTENV_DIR/env"
  if [[ "${TESTENV_RBAC:-none}" == none ]]; then export OPERATOR_KUBECONFIG="$KUBECONFIG"; fi
}
testenv_down() {
  "$ROOT/tests/scripts/testenv-down.sh" >&2 || true
  STARTED_TESTENV=""
}

run_label() { # run_label LABEL RUN: LABEL for the first run, LABEL-rRUN for the repeats
  if [[ "$2" == 1 ]]; then echo "$1"; else echo "$1-r$2"; fi
}

drive() { # drive LABEL ARGS...
  local label="$1"
  shift
  log "scenario $label: $*"
  "$DRIVER" --label "$label" --operator-bin "$OPERATOR_BIN" --create-seconds "${CREATE_SECONDS:-$BENCH_CREATE_SECONDS}" \
    --out "$OUT/$label.json" --log-dir "$OUT" "$@" | tee -a "$OUT/summary.txt" ||
    log "scenario $label FAILED (partial results in $OUT/$label.json if written)"
}

: >"$OUT/summary.txt"
if want burst || want burst3000 || want shipped || want fair || want rate || want conc || want approval; then
  testenv_up
  # The short scenarios run BENCH_RUNS times (the summary takes medians); the steady state only once.
  for run in $(seq 1 "$BENCH_RUNS"); do
    if want burst; then
      # Issue 16 C (and E at 1,000): no rate limit (--qps 1000), Creating 5 s, 30 ms per call.
      steady=0
      if [[ "$run" == 1 ]]; then steady="$BENCH_STEADY_INTERVALS"; fi
      CREATE_SECONDS=5 drive "$(run_label burst "$run")" --n "$BENCH_N" --concurrency "$BENCH_CONCURRENCY" \
        --qps "$BENCH_QPS" --burst "$BENCH_BURST" --resync-seconds "$BENCH_RESYNC" --steady-intervals "$steady" \
        --sim-latency-ms 30
    fi
    if want burst3000; then
      # Issue 16 C at 3,000 (how it grows).
      CREATE_SECONDS=5 drive "$(run_label burst3000 "$run")" --n "$BENCH_BURST3000_N" \
        --concurrency "$BENCH_CONCURRENCY" --qps "$BENCH_QPS" --burst "$BENCH_BURST" --resync-seconds 600 \
        --steady-intervals 0 --sim-latency-ms 30 --timeout-seconds 1200
    fi
    if want shipped; then
      # Issue 16 A: the shipped defaults (--qps 20 --burst 40 --concurrency 8), Creating 5 s, 30 ms per call.
      CREATE_SECONDS=5 drive "$(run_label shipped "$run")" --n "$BENCH_SHIPPED_N" --concurrency 8 --qps 20 \
        --burst 40 --resync-seconds 600 --steady-intervals 0 --sim-latency-ms 30 --timeout-seconds 1200
    fi
    if want fair; then
      # Issue 16 B: the shipped burst in one namespace; 10 s in, one object in another namespace (same
      # account) and one with another account's credentials.
      CREATE_SECONDS=5 drive "$(run_label fair "$run")" --n "$BENCH_SHIPPED_N" --concurrency 8 --qps 20 \
        --burst 40 --resync-seconds 600 --steady-intervals 0 --sim-latency-ms 30 --timeout-seconds 1200 \
        --fair-after-seconds 10
    fi
  done
  if want rate; then
    drive rate --n "$BENCH_RATE_N" --concurrency "$BENCH_CONCURRENCY" --qps "$BENCH_RATE_QPS" \
      --burst "$BENCH_RATE_QPS" --resync-seconds "$BENCH_RESYNC"
  fi
  if want approval; then
    # Shipped defaults (--qps 20 --burst 40, connection poll 30 s); every object has approval lists.
    drive approval --n "$BENCH_APPROVAL_N" --concurrency "$BENCH_CONCURRENCY" --qps 20 --burst 40 \
      --resync-seconds "$BENCH_RESYNC" --steady-intervals "$BENCH_STEADY_INTERVALS" --approval
  fi
  if want conc; then
    drive conc --n "$BENCH_CONC_N" --concurrency 4 --qps "$BENCH_QPS" --burst "$BENCH_BURST" \
      --resync-seconds "$BENCH_RESYNC" --sim-latency-ms 200
  fi
  testenv_down
fi
if want limited; then
  testenv_up # fresh apiserver and etcd
  # Issue 16 F: the simulator enforces 100 calls/s (like an account's API limit), the operator runs at
  # --qps 100; Creating 5 s, 30 ms per call.
  CREATE_SECONDS=5 drive limited --n "$BENCH_LIMITED_N" --concurrency 8 --qps 100 --burst 100 \
    --sim-qps-limit 100 --sim-latency-ms 30 --resync-seconds 600 --steady-intervals 0 \
    --apply-concurrency 48 --timeout-seconds 1800 --journal-poll-seconds 5
  testenv_down
fi
if want scale; then
  testenv_up # fresh apiserver and etcd: the scale run does not share them with the runs above
  drive scale --n "$BENCH_SCALE_N" --concurrency "$BENCH_CONCURRENCY" --qps "$BENCH_QPS" \
    --burst "$BENCH_BURST" --resync-seconds "$BENCH_RESYNC" \
    --steady-intervals "$BENCH_SCALE_STEADY_INTERVALS" --apply-concurrency 48 --timeout-seconds 1800 --journal-poll-seconds 5 --restart-check
  testenv_down
fi

# ---- summary ---------------------------------------------------------------------------------------
python3 "$ROOT/tests/bench/summary.py" "$OUT" | tee "$OUT/summary.md"
