#!/usr/bin/env bash
# Restart one component of a running testenv on the SAME port:
#   testenv-restart.sh apiserver   state survives (same etcd data dir, certificates and tokens)
#   testenv-restart.sh sim         the simulator starts empty (it keeps no state)
set -euo pipefail
# shellcheck source=tests/scripts/testenv-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/testenv-lib.sh"

[[ -f "$TESTENV_DIR/env" ]] || die "testenv is not up (run: make testenv-up)"
case "${1:-}" in
  apiserver)
    stop_pid "$TESTENV_DIR/apiserver.pid" 5
    t0=$(date +%s)
    start_apiserver
    wait_apiserver_ready 120
    log "apiserver restarted on the same port (pid $(cat "$TESTENV_DIR/apiserver.pid"), ready after $(( $(date +%s) - t0 ))s)"
    ;;
  sim)
    port="$(cat "$TESTENV_DIR/sim.port")"
    stop_pid "$TESTENV_DIR/sim.pid" 10
    start_sim "$port"
    log "sim restarted on port $port (pid $(cat "$TESTENV_DIR/sim.pid")); its state is empty"
    ;;
  *) die "usage: $0 apiserver|sim" ;;
esac
write_env
