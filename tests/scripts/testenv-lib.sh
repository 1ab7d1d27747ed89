# Shared helpers for tests/scripts/testenv-*.sh and tests/scripts/demo.sh (sourced, not executed).
# Everything lives under $TESTENV_DIR (default: <repo>/.testenv) and listens on 127.0.0.1 only.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TESTENV_DIR="${TESTENV_DIR:-$ROOT/.testenv}"
APISERVER_BIN="$ROOT/target/testbin/testapiserver"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SIM_BIN="${SIM_BIN:-$CARGO_TARGET_DIR/debug/privatelink-sim}"
OPERATOR_BIN="${OPERATOR_BIN:-$CARGO_TARGET_DIR/debug/privatelink-operator}"
OPERATOR_NS="privatelink-system"
OPERATOR_SA="privatelink-operator"
OPERATOR_USER="system:serviceaccount:$OPERATOR_NS:$OPERATOR_SA"

log() { echo "testenv: $*"; }
die() { echo "testenv: ERROR: $*" >&2; exit 1; }

# pid_alive FILE: true if FILE holds the PID of a live process.
pid_alive() {
  local f="$1" pid
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# stop_pid FILE [GRACE_S]: SIGTERM the PID in FILE; after GRACE_S (default 15) a second SIGTERM (the
# apiserver exits at once on a second signal), SIGKILL 3 s later; then remove FILE.
stop_pid() {
  local f="$1" grace="${2:-15}" pid i
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f" 2>/dev/null)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    if kill -0 "$pid" 2>/dev/null; then
      log "$(basename "$f" .pid) (pid $pid) did not stop; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -f "$f"
}

# Ports are picked below the kernel's ephemeral range (net.ipv4.ip_local_port_range), at random and
# checked free: outgoing connections (cargo, go, curl, the tests) take ephemeral ports, so a port picked
# with bind(0) could be taken again before the apiserver binds it.
# free_port_pair: print a port P such that P and P+1 are both free on 127.0.0.1.
free_port_pair() {
  python3 - 2 <<'PY'
import random, socket, sys
n = int(sys.argv[1])
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    low = 32768
for _ in range(500):
    p = random.randrange(15000, max(15001, low - n))
    socks = []
    try:
        for k in range(n):
            s = socket.socket(); s.bind(("127.0.0.1", p + k)); socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    if len(socks) == n:
        print(p); break
else:
    raise SystemExit("no free port below the ephemeral range")
PY
}

free_port() {
  free_port_pair
}

# apiserver_port_clash LOG_OFFSET: wait until the apiserver started by start_apiserver is serving or has
# exited; true if it exited because a port was taken (log lines after byte LOG_OFFSET).
apiserver_port_clash() {
  local offset="$1" port i
  port="$(cat "$TESTENV_DIR/apiserver.port")"
  for ((i = 0; i < 120; i++)); do
    if ! pid_alive "$TESTENV_DIR/apiserver.pid"; then
      tail -c +"$((offset + 1))" "$TESTENV_DIR/apiserver.log" | grep "address already in use" >/dev/null
      return
    fi
    if curl -ksS --max-time 1 "https://127.0.0.1:$port/livez" >/dev/null 2>&1; then return 1; fi
    sleep 0.25
  done
  return 1
}

# start_apiserver: start the test apiserver from the saved state in $TESTENV_DIR (ports, pki, tokens).
start_apiserver() {
  local port etcd_port
  port="$(cat "$TESTENV_DIR/apiserver.port")"
  etcd_port="$(cat "$TESTENV_DIR/etcd.port")"
  mkdir -p "$TESTENV_DIR/etcd"
  TESTAPI_ETCD_DIR="$TESTENV_DIR/etcd" TESTAPI_ETCD_PORT="$etcd_port" setsid "$APISERVER_BIN" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$port" \
    --tls-cert-file="$TESTENV_DIR/pki/apiserver.crt" --tls-private-key-file="$TESTENV_DIR/pki/apiserver.key" \
    --cert-dir="$TESTENV_DIR/pki" \
    --authorization-mode=RBAC --token-auth-file="$TESTENV_DIR/tokens.csv" \
    --service-account-issuer="https://127.0.0.1:$port" \
    --service-account-key-file="$TESTENV_DIR/pki/sa.key" \
    --service-account-signing-key-file="$TESTENV_DIR/pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --disable-admission-plugins=ServiceAccount --allow-privileged=true \
    --profiling=false --v=1 \
    </dev/null >>"$TESTENV_DIR/apiserver.log" 2>&1 &
  echo $! >"$TESTENV_DIR/apiserver.pid"
}

# wait_apiserver_ready [TIMEOUT_S]
wait_apiserver_ready() {
  local timeout="${1:-90}" port i
  port="$(cat "$TESTENV_DIR/apiserver.port")"
  for ((i = 0; i < timeout * 4; i++)); do
    if ! pid_alive "$TESTENV_DIR/apiserver.pid"; then
      echo "---- last lines of $TESTENV_DIR/apiserver.log ----" >&2
      tail -n 30 "$TESTENV_DIR/apiserver.log" >&2 || true
      die "the apiserver exited during startup (log: $TESTENV_DIR/apiserver.log)"
    fi
    if curl -fsS --max-time 2 --cacert "$TESTENV_DIR/pki/ca.crt" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.25
  done
  die "the apiserver was not ready after ${timeout}s (log: $TESTENV_DIR/apiserver.log)"
}

# start_sim [PORT]: start the simulator; PORT 0 (default) picks a free one. Writes sim.pid and sim.port.
start_sim() {
  local port="${1:-0}" i line
  : >"$TESTENV_DIR/sim.log"
  setsid "$SIM_BIN" --listen "127.0.0.1:$port" </dev/null >>"$TESTENV_DIR/sim.log" 2>&1 &
  echo $! >"$TESTENV_DIR/sim.pid"
  for ((i = 0; i < 100; i++)); do
    line="$(grep -m1 -o 'privatelink-sim listening on http://127.0.0.1:[0-9]*' "$TESTENV_DIR/sim.log" || true)"
    if [[ -n "$line" ]]; then
      echo "${line##*:}" >"$TESTENV_DIR/sim.port"
      return 0
    fi
    if ! pid_alive "$TESTENV_DIR/sim.pid"; then
      tail -n 20 "$TESTENV_DIR/sim.log" >&2 || true
      die "privatelink-sim exited at startup (log: $TESTENV_DIR/sim.log). Is the simulator (branch sim) merged and built?"
    fi
    sleep 0.1
  done
  die "privatelink-sim printed no 'listening on' line within 10s (log: $TESTENV_DIR/sim.log)"
}

sim_healthy() {
  local port
  [[ -f "$TESTENV_DIR/sim.port" ]] || return 1
  port="$(cat "$TESTENV_DIR/sim.port")"
  pid_alive "$TESTENV_DIR/sim.pid" &&
    curl -fsS --max-time 2 "http://127.0.0.1:$port/_sim/healthz" >/dev/null 2>&1
}

apiserver_healthy() {
  local port
  [[ -f "$TESTENV_DIR/apiserver.port" ]] || return 1
  port="$(cat "$TESTENV_DIR/apiserver.port")"
  pid_alive "$TESTENV_DIR/apiserver.pid" &&
    curl -fsS --max-time 2 --cacert "$TESTENV_DIR/pki/ca.crt" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1
}

# write_env: (re)write $TESTENV_DIR/env from the saved state.
write_env() {
  local port sim_port
  port="$(cat "$TESTENV_DIR/apiserver.port")"
  sim_port="$(cat "$TESTENV_DIR/sim.port")"
  cat >"$TESTENV_DIR/env.tmp" <<ENV
# Generated by tests/scripts/testenv-up.sh; use: source $TESTENV_DIR/env
export TESTENV_DIR="$TESTENV_DIR"
export KUBECONFIG="$TESTENV_DIR/admin.kubeconfig"
export OPERATOR_KUBECONFIG="$TESTENV_DIR/operator.kubeconfig"
export TESTENV_APISERVER_URL="https://127.0.0.1:$port"
export TESTENV_APISERVER_PID="$(cat "$TESTENV_DIR/apiserver.pid")"
export TESTENV_SIM_PID="$(cat "$TESTENV_DIR/sim.pid")"
export TESTENV_RBAC="$(cat "$TESTENV_DIR/rbac" 2>/dev/null || echo none)"
export PRIVATELINK_ENDPOINT="http://127.0.0.1:$sim_port"
export ALIBABA_CLOUD_STS_ENDPOINT="http://127.0.0.1:$sim_port"
export PRIVATELINK_SIM_ADMIN="http://127.0.0.1:$sim_port/_sim"
export ALIBABA_CLOUD_ACCESS_KEY_ID="sim-ak-default"
export ALIBABA_CLOUD_ACCESS_KEY_SECRET="sim-secret-default"
ENV
  mv -f "$TESTENV_DIR/env.tmp" "$TESTENV_DIR/env"
}

kubeconfig() { # kubeconfig NAME TOKEN FILE
  local name="$1" token="$2" file="$3" port ca
  port="$(cat "$TESTENV_DIR/apiserver.port")"
  ca="$(base64 -w0 <"$TESTENV_DIR/pki/ca.crt")"
  umask 077
  cat >"$file" <<KC
apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $ca
users:
- name: $name
  user:
    token: $token
contexts:
- name: $name@testenv
  context:
    cluster: testenv
    user: $name
    namespace: default
current-context: $name@testenv
KC
}
