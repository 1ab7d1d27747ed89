#!/usr/bin/env bash
# Start the local test environment: a real kube-apiserver (v1.34.4, etcd embedded) and privatelink-sim,
# both on 127.0.0.1, then install crds/ and the operator's RBAC from deploy/manifests/.
# Idempotent: when everything is already up and healthy it only re-applies crds/ and RBAC.
#
# Env: TESTENV_DIR (default .testenv), TESTENV_NO_CARGO=1 (skip `cargo build --bins`).
set -euo pipefail
# shellcheck source=tests/scripts/testenv-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/testenv-lib.sh"

# ---- build what is missing -------------------------------------------------------------------
"$ROOT/tests/scripts/build-apiserver.sh"
if [[ -z "${TESTENV_NO_CARGO:-}" ]]; then
  log "cargo build --bins (privatelink-operator, privatelink-sim)"
  (cd "$ROOT" && cargo build --bins --quiet)
fi
[[ -x "$SIM_BIN" ]] || die "$SIM_BIN is missing (cargo build --bins failed?)"

# apply_manifests: install CRDs and the operator's RBAC (idempotent, server-side apply).
apply_manifests() {
  export KUBECONFIG="$TESTENV_DIR/admin.kubeconfig"
  if compgen -G "$ROOT/crds/*.yaml" >/dev/null; then
    kubectl apply --server-side --force-conflicts -f "$ROOT/crds/" >/dev/null ||
      die "the API server rejected crds/ (see the message above); the testenv stays up for debugging"
    kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
    log "applied crds/ ($(ls "$ROOT"/crds/*.yaml | wc -l) file(s))"
  else
    log "WARNING: crds/ has no YAML yet (operator core not merged?); no CRD installed"
  fi
  local man="$ROOT/deploy/manifests"
  if compgen -G "$man/*.yaml" >/dev/null || compgen -G "$man/*.yml" >/dev/null; then
    # Only the kinds needed to run the operator out of cluster: namespace, SA, RBAC. The CRD comes
    # from crds/ (the source of truth); everything else (including the chart's copy of the CRD and
    # the Deployment) is only validated with a server-side dry run.
    local f="$TESTENV_DIR/deploy-rbac.yaml"
    cat "$man"/*.y*ml | awk '
      function flush() { if (keep) printf "%s---\n", doc; doc = ""; keep = 0 }
      /^---/ { flush(); next }
      { doc = doc $0 "\n" }
      /^kind:[ \t]*(Namespace|ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)[ \t]*$/ { keep = 1 }
      END { flush() }' >"$f"
    if [[ -s "$f" ]]; then
      kubectl apply --server-side --force-conflicts -f "$f" >/dev/null ||
        die "the API server rejected deploy/manifests/ RBAC (see above); the testenv stays up for debugging"
      echo deploy >"$TESTENV_DIR/rbac"
      if kubectl apply --server-side --force-conflicts --dry-run=server -f "$man/" >/dev/null; then
        log "applied namespace/ServiceAccount/RBAC from deploy/manifests/ (the rest: server-side dry run OK)"
      else
        log "applied namespace/ServiceAccount/RBAC from deploy/manifests/"
        log "WARNING: deploy/manifests/ FAILS a server-side dry run (message above); the e2e test"
        log "         kubectl_applies_deploy_manifests... will fail until deploy/ is fixed"
      fi
    else
      die "deploy/manifests/ has no Namespace/ServiceAccount/RBAC documents"
    fi
  else
    echo none >"$TESTENV_DIR/rbac"
    log "WARNING: deploy/manifests/ not present yet: the operator identity ($OPERATOR_USER) has NO RBAC;"
    log "         use the admin kubeconfig for the operator until deploy/ lands"
  fi
}

print_usage() {
  if [[ -n "${TESTENV_QUIET:-}" ]]; then
    log "up: apiserver https://127.0.0.1:$(cat "$TESTENV_DIR/apiserver.port"), sim http://127.0.0.1:$(cat "$TESTENV_DIR/sim.port")"
    return
  fi
  cat <<MSG

testenv is up:
  apiserver  https://127.0.0.1:$(cat "$TESTENV_DIR/apiserver.port")  (pid $(cat "$TESTENV_DIR/apiserver.pid"), log $TESTENV_DIR/apiserver.log)
  sim        http://127.0.0.1:$(cat "$TESTENV_DIR/sim.port")  (pid $(cat "$TESTENV_DIR/sim.pid"), log $TESTENV_DIR/sim.log)

  source $TESTENV_DIR/env                 # KUBECONFIG (admin), OPERATOR_KUBECONFIG, PRIVATELINK_ENDPOINT, ...
  kubectl get crd,ns
  KUBECONFIG=\$OPERATOR_KUBECONFIG target/debug/privatelink-operator run --http-addr 127.0.0.1:0
  curl \$PRIVATELINK_SIM_ADMIN/services
  cargo test --test e2e                   # e2e tests against this environment
  make testenv-down                       # stop everything and remove $TESTENV_DIR
MSG
}

# ---- already up? ---------------------------------------------------------------------------------
if [[ -f "$TESTENV_DIR/env" ]]; then
  if apiserver_healthy && sim_healthy; then
    log "already up and healthy; re-applying crds/ and RBAC"
    apply_manifests
    write_env
    print_usage
    exit 0
  fi
  log "found a partial or dead testenv in $TESTENV_DIR; tearing it down first"
  "$ROOT/tests/scripts/testenv-down.sh"
fi

# ---- fresh start ---------------------------------------------------------------------------------
if [[ -d "$TESTENV_DIR" ]]; then "$ROOT/tests/scripts/testenv-down.sh"; fi
command -v openssl >/dev/null || die "openssl is needed to create the test certificates"
command -v kubectl >/dev/null || die "kubectl is needed"
rm -rf "$TESTENV_DIR"
mkdir -p "$TESTENV_DIR/pki"
chmod 700 "$TESTENV_DIR"

log "generating CA, serving certificate, service-account key and tokens"
(
  cd "$TESTENV_DIR/pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=testenv-ca" -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=kube-apiserver" \
    -keyout apiserver.key -out apiserver.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n' >ext.cnf
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile ext.cnf -out apiserver.crt 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null
  chmod 600 ./*.key
)
admin_token="$(openssl rand -hex 24)"
operator_token="$(openssl rand -hex 24)"
umask 077
cat >"$TESTENV_DIR/tokens.csv" <<CSV
$admin_token,testenv-admin,testenv-admin,"system:masters"
$operator_token,$OPERATOR_USER,testenv-operator,"system:serviceaccounts,system:serviceaccounts:$OPERATOR_NS"
CSV
umask 022

t0=$(date +%s)
for attempt in 1 2 3; do
  free_port_pair >"$TESTENV_DIR/etcd.port"
  free_port >"$TESTENV_DIR/apiserver.port"
  kubeconfig testenv-admin "$admin_token" "$TESTENV_DIR/admin.kubeconfig"
  kubeconfig privatelink-operator "$operator_token" "$TESTENV_DIR/operator.kubeconfig"
  log "starting kube-apiserver on https://127.0.0.1:$(cat "$TESTENV_DIR/apiserver.port") (etcd on 127.0.0.1:$(cat "$TESTENV_DIR/etcd.port"))"
  offset="$(stat -c %s "$TESTENV_DIR/apiserver.log" 2>/dev/null || echo 0)"
  start_apiserver
  apiserver_port_clash "$offset" || break
  log "a port was taken before the apiserver bound it (attempt $attempt); picking others"
  rm -rf "$TESTENV_DIR/etcd"
done
log "starting privatelink-sim"
start_sim 0
wait_apiserver_ready 120
log "apiserver ready after $(( $(date +%s) - t0 ))s"
echo none >"$TESTENV_DIR/rbac"
write_env
apply_manifests
write_env
print_usage
