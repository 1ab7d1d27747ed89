#!/usr/bin/env bash
# Stop everything testenv-up.sh and demo.sh started (by PID: SIGTERM, SIGKILL after a timeout) and
# remove the testenv directory.
set -euo pipefail
# shellcheck source=tests/scripts/testenv-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/testenv-lib.sh"

if [[ ! -d "$TESTENV_DIR" ]]; then
  log "nothing to stop ($TESTENV_DIR does not exist)"
  exit 0
fi
for name in operator sim apiserver; do
  if [[ -f "$TESTENV_DIR/$name.pid" ]]; then
    if pid_alive "$TESTENV_DIR/$name.pid"; then log "stopping $name (pid $(cat "$TESTENV_DIR/$name.pid"))"; fi
    stop_pid "$TESTENV_DIR/$name.pid" 5
  fi
done
rm -rf "$TESTENV_DIR"
log "down; removed $TESTENV_DIR"
