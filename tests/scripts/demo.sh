#!/usr/bin/env bash
# make demo: from a fresh machine to a Ready VpcEndpointService and a VpcEndpoint (account B) connected
# to it, in one command.
#   build (first time: kube-apiserver from Go modules, minutes) -> testenv-up -> operator in the
#   background -> kubectl apply deploy/examples/demo.yaml -> kubectl wait Ready -> show it.
set -euo pipefail
# shellcheck source=tests/scripts/testenv-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/testenv-lib.sh"
cd "$ROOT"

EXAMPLE="deploy/examples/demo.yaml"
NAME="demo-service"
# The demo operator watches one namespace only, so that it never touches the e2e tests' namespaces
# (`make e2e` against the same testenv runs its own operators).
DEMO_NAMESPACE="${DEMO_NAMESPACE:-default}"

if [[ ! -x "$APISERVER_BIN" ]]; then
  echo "demo: first run: this builds kube-apiserver v1.34.4 from Go modules (about 5-10 minutes on 2 cores),"
  echo "demo: then the operator and the simulator with cargo. Later runs start in seconds."
fi
TESTENV_QUIET=1 "$ROOT/tests/scripts/testenv-up.sh"
# shellcheck disable=SC1091
source "$TESTENV_DIR/env"

[[ -x "$OPERATOR_BIN" ]] || die "$OPERATOR_BIN is missing"
if [[ "${TESTENV_RBAC:-none}" == deploy ]]; then
  op_kubeconfig="$OPERATOR_KUBECONFIG"
  who="the restricted identity $OPERATOR_USER (RBAC from deploy/manifests)"
else
  op_kubeconfig="$KUBECONFIG"
  who="the ADMIN identity (deploy/manifests not present)"
fi

# (Re)start the demo operator so that it runs the binary just built.
stop_pid "$TESTENV_DIR/operator.pid" 15
echo "demo: starting privatelink-operator (namespace $DEMO_NAMESPACE) as $who"
KUBECONFIG="$op_kubeconfig" RUST_LOG="${RUST_LOG:-info}" NO_COLOR=1 setsid "$OPERATOR_BIN" run \
  --endpoint "$PRIVATELINK_ENDPOINT" --namespace "$DEMO_NAMESPACE" --http-addr 127.0.0.1:0 \
  </dev/null >>"$TESTENV_DIR/operator.log" 2>&1 &
echo $! >"$TESTENV_DIR/operator.pid"
sleep 1
pid_alive "$TESTENV_DIR/operator.pid" || { tail -n 30 "$TESTENV_DIR/operator.log" >&2; die "the operator exited at startup (log: $TESTENV_DIR/operator.log)"; }

echo "demo: kubectl apply -n $DEMO_NAMESPACE -f $EXAMPLE"
kubectl apply -n "$DEMO_NAMESPACE" -f "$EXAMPLE"
echo "demo: kubectl wait --for=condition=Ready epsrv/$NAME --timeout=90s"
if ! kubectl wait -n "$DEMO_NAMESPACE" --for=condition=Ready "epsrv/$NAME" --timeout=90s; then
  echo "demo: $NAME did not become Ready; its status and the operator log:" >&2
  kubectl get -n "$DEMO_NAMESPACE" epsrv "$NAME" -o yaml >&2 || true
  tail -n 40 "$TESTENV_DIR/operator.log" >&2
  exit 1
fi

echo "demo: kubectl wait --for=condition=Ready vpce/demo-endpoint --timeout=90s   (the consumer side, account B)"
if ! kubectl wait -n "$DEMO_NAMESPACE" --for=condition=Ready "vpce/demo-endpoint" --timeout=90s; then
  echo "demo: demo-endpoint did not become Ready; its status and the operator log:" >&2
  kubectl get -n "$DEMO_NAMESPACE" vpce demo-endpoint -o yaml >&2 || true
  tail -n 40 "$TESTENV_DIR/operator.log" >&2
  exit 1
fi

echo
echo "\$ kubectl get epsrv,vpce -n $DEMO_NAMESPACE -o wide"
kubectl get epsrv,vpce -n "$DEMO_NAMESPACE" -o wide
echo
echo "\$ kubectl get epsrv -n $DEMO_NAMESPACE $NAME -o yaml   (status)"
kubectl get epsrv -n "$DEMO_NAMESPACE" "$NAME" -o yaml | sed -n '/^status:/,$p'
cat <<MSG

The demo is running: kube-apiserver $TESTENV_APISERVER_URL, privatelink-sim $PRIVATELINK_ENDPOINT,
privatelink-operator (pid $(cat "$TESTENV_DIR/operator.pid"), log $TESTENV_DIR/operator.log).

Play with it (the demo operator watches namespace $DEMO_NAMESPACE):
  source $TESTENV_DIR/env
  kubectl get epsrv -w                         # watch the printer columns
  kubectl edit epsrv $NAME              # e.g. change tags or serviceDescription
  kubectl delete epsrv $NAME            # waits for the consumer (DeletionBlocked) until you
  kubectl delete vpce demo-endpoint            #   delete the endpoint; then both go
  kubectl get cm demo-endpoint -o yaml         # what applications read (exportTo)
  curl -s \$PRIVATELINK_SIM_ADMIN/endpoints    # account B's endpoint in the simulated cloud
  curl -s \$PRIVATELINK_SIM_ADMIN/services     # what the simulated cloud holds
  curl -s \$PRIVATELINK_SIM_ADMIN/journal      # every API call the operator made
  curl -s -XPOST \$PRIVATELINK_SIM_ADMIN/faults -d '{"action":"CreateVpcEndpointService","kind":"throttle","count":3}'
  tail -f $TESTENV_DIR/operator.log

Stop everything (apiserver, sim and this operator):  make testenv-down
MSG
