#!/usr/bin/env bash
# Builds the container image from deploy/Dockerfile with podman and runs it
# as deploy/compose.yaml says (its services' commands, secrets and volumes):
# a coordinator and two workers in one pod (their traffic stays on the pod's
# own 127.0.0.1; the pod has no other network), with TLS and a join token,
# trained to the end of the MLP job (deploy/jobs/mlp.textproto,
# Fashion-MNIST from the image), the image's healthcheck run on the live
# containers and the state volume resumed by a second coordinator. Prints
# how long the build took and the size of both stages. tools/test.sh runs it.
#
#   deploy/test-image.sh [--keep]
#
#   --keep   leave the images (tributary:test, tributary-build:test) in
#            podman's storage; the pod, containers and volume always go.
#
# Needs root, podman, runc, catatonit (the pod's pause process) and
# debootstrap (tools/install-deps.sh --containers), python3-yaml and openssl
# (tools/install-deps.sh); without them it prints "SKIP: ..." and exits 0.
# No registry is used: the debian:12 base image is made here by debootstrap
# from the Debian mirror (TRIBUTARY_DEBIAN_MIRROR, default
# http://deb.debian.org/debian) and imported; its root tarball is kept in
# TRIBUTARY_IMAGE_CACHE (default /var/cache/tributary-image) and the image
# in podman's storage, so a second run starts from both. The build's ccache
# lives in a build cache mount, so a rebuild compiles only what changed.
#
# Runtime settings: runc, not crun (crun fails on hybrid cgroup
# hierarchies), with ulimits within this shell's hard limits (podman's
# defaults may ask for more, which runc then fails to set): flags for the
# build, and a containers.conf of the script's own (CONTAINERS_CONF) for the
# pod, whose pause container takes no flags.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly IMAGE=tributary:test
readonly BUILD_IMAGE=tributary-build:test
readonly BASE=debian:12
readonly MIRROR=${TRIBUTARY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
readonly CACHE=${TRIBUTARY_IMAGE_CACHE:-/var/cache/tributary-image}
readonly RUN_TIMEOUT_S=900
readonly JOB=/usr/local/share/tributary/jobs/mlp.textproto
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then nofile=65536; fi
readonly ULIMITS=("nofile=$nofile:$nofile" "nproc=1000:1000")

keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: deploy/test-image.sh [--keep]" >&2; exit 2 ;;
  esac
done

log() { echo "test-image: $*"; }
skip() {
  echo "SKIP: deploy/test-image.sh: $*"
  exit 0
}
fail() {
  log "FAIL: $*"
  exit 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root (rootful podman)"
for tool in podman runc debootstrap; do
  command -v "$tool" > /dev/null || skip "$tool is not installed (tools/install-deps.sh --containers)"
done
[ -x /usr/libexec/podman/catatonit ] || skip "catatonit is not installed (tools/install-deps.sh --containers)"
python3 -c "import yaml" 2> /dev/null || skip "python3-yaml is not installed (tools/install-deps.sh)"
command -v openssl > /dev/null || skip "openssl is not installed (tools/install-deps.sh)"

work=$(mktemp -d /tmp/tributary-test-image.XXXXXX)
pod=tributary-test-$$
cleanup() {
  podman pod rm -f "$pod" > /dev/null 2>&1 || true
  podman volume ls --format '{{.Name}}' | grep "^$pod-" | xargs -r podman volume rm -f > /dev/null 2>&1 || true
  podman secret ls --format '{{.Name}}' | grep "^$pod-" | xargs -r podman secret rm > /dev/null 2>&1 || true
  if [ "$keep" -eq 0 ]; then podman rmi -f "$IMAGE" "$BUILD_IMAGE" > /dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Podman's own defaults, with runc and the ulimits the build gets as flags.
cat > "$work/containers.conf" << CONF
[containers]
default_capabilities = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP",
                        "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]
default_sysctls = ["net.ipv4.ping_group_range=0 0"]
default_ulimits = ["${ULIMITS[0]}", "${ULIMITS[1]}"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF=$work/containers.conf
podman info > /dev/null 2>&1 || skip "podman does not work here: $(podman info 2>&1 | tail -1)"

# The debian:12 base: bookworm's minimal root (what the official image
# holds), with the same apt sources, from the mirror instead of a registry.
make_base_image() {
  local tarball=$CACHE/debian-12-minbase.tar
  if [ ! -s "$tarball" ]; then
    log "debootstrap bookworm from $MIRROR (once; cached in $tarball)"
    mkdir -p "$CACHE"
    local root=$work/root
    nice debootstrap --variant=minbase bookworm "$root" "$MIRROR" > "$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
    rm -f "$root/etc/apt/sources.list"
    cat > "$root/etc/apt/sources.list.d/debian.sources" << SOURCES
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  log "importing $tarball as $BASE"
  podman import --quiet --change 'CMD ["bash"]' "$tarball" "$BASE" > /dev/null
}
podman image exists "$BASE" || make_base_image

build() {
  nice podman --runtime runc build --pull=never --format docker --network host \
    --ulimit "${ULIMITS[0]}" --ulimit "${ULIMITS[1]}" \
    --ignorefile deploy/Dockerfile.dockerignore -f deploy/Dockerfile "$@" .
}
log "building $IMAGE from deploy/Dockerfile"
start=$SECONDS
build -t "$IMAGE" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; fail "podman build"; }
log "built in $((SECONDS - start)) s"
build --target build -t "$BUILD_IMAGE" > /dev/null 2>&1  # every layer is cached: this only names the stage
size() { podman image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.0f MB", $1 / 1e6 }'; }
log "image sizes: build stage $(size "$BUILD_IMAGE"), runtime stage $(size "$IMAGE")"

# The services as deploy/compose.yaml defines them: each one's command,
# secrets and volumes, its ${VAR:-default}s filled in as compose would
# (the MLP job, one thread per worker). Prints bash array assignments.
read_compose() {
  TRIBUTARY_JOB=$JOB TRIBUTARY_WORKER_THREADS=1 python3 - << 'PY'
import os, re, shlex, yaml
with open("deploy/compose.yaml") as f:
  text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}",
                lambda m: os.environ.get(m.group(1)) or m.group(2) or "", f.read())
compose = yaml.safe_load(text)
def array(name, items):
  print(f"{name}=({' '.join(shlex.quote(str(item)) for item in items)})")
for name in ("coordinator", "worker"):
  service = compose["services"][name]
  array(f"{name}_command", service["command"])
  array(f"{name}_secrets", service.get("secrets", []))
  array(f"{name}_volumes", service.get("volumes", []))
array("secret_files", [f"{name}={os.path.basename(s['file'])}" for name, s in compose["secrets"].items()])
PY
}
eval "$(read_compose)"

# Its secrets as compose mounts them (/run/secrets/NAME, readable by the
# image's user): certificates for the host name "coordinator" and a token.
deploy/make-certs.sh "$work/secrets" coordinator > /dev/null
openssl rand -hex 32 > "$work/secrets/join_token"
for entry in "${secret_files[@]}"; do
  podman secret create "$pod-${entry%%=*}" "$work/secrets/${entry#*=}" > /dev/null
done
options_for() {  # SERVICE: podman run options for its secrets and named volumes
  local -n secrets=$1_secrets volumes=$1_volumes
  local secret mount
  for secret in "${secrets[@]}"; do
    echo "--secret=$pod-$secret,target=$secret,uid=10001,gid=10001,mode=0400"
  done
  for mount in "${volumes[@]}"; do echo "--volume=$pod-$mount"; done
}
mapfile -t coordinator_options < <(options_for coordinator)
mapfile -t worker_options < <(options_for worker)

# A pod with only a loopback interface, whose host name is the compose
# service's: workers dial coordinator:7070 on the pod's 127.0.0.1, and
# nothing in the pod reaches or is reached from outside. Podman's periodic
# healthchecks need systemd timers, which a machine without systemd lacks
# (podman run says so on stderr); the check is run by hand below.
podman pod create --name "$pod" --hostname coordinator --network none > /dev/null
# Read-only root file systems, as deploy/k8s/ runs them (secrets go on a
# tmpfs: runc cannot make their mount points in a read-only /run).
run() {
  podman run -d --pod "$pod" --read-only --tmpfs /run/secrets "$@" > /dev/null 2>> "$work/run.log" \
    || { cat "$work/run.log" >&2; fail "podman run $*"; }
}
# compose.yaml's coordinator has no --exit_when_done: it serves until the
# workers have heard that the job is done and left, then is stopped
# (SIGTERM) like a service.
run --name "$pod-coordinator" "${coordinator_options[@]}" "$IMAGE" "${coordinator_command[@]}"
for i in 1 2; do
  run --name "$pod-worker-$i" "${worker_options[@]}" --tmpfs /var/cache/tributary:mode=1777 "$IMAGE" \
    "${worker_command[@]}" --name="pod-worker-$i"
done
log "pod $pod: compose.yaml's coordinator and two workers (TLS, join token, read-only root file systems):"
log "  ${coordinator_command[*]}"
log "  ${worker_command[*]}"

# GET PATH from inside the pod with bash alone (the image holds no HTTP client).
http_get() {
  podman exec "$pod-coordinator" bash -c \
    "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET $1 HTTP/1.0\r\n\r\n' >&3 && cat <&3"
}

healthy=0
deadline=$((SECONDS + RUN_TIMEOUT_S))
while true; do
  [ "$(podman inspect --format '{{.State.Running}}' "$pod-coordinator")" = true ] \
    || { podman logs --tail 20 "$pod-coordinator" >&2; fail "the coordinator exited"; }
  status=$(http_get /api/status 2> /dev/null || true)
  if [ "$healthy" -eq 0 ] && grep -q '"model_version": *[1-9]' <<< "$status"; then
    # Versions are being made, so the workers joined. The image's own
    # HEALTHCHECK passes on the coordinator, and on a worker, which has no
    # endpoint and is healthy while it runs.
    podman healthcheck run "$pod-coordinator" || fail "the healthcheck on the coordinator"
    podman healthcheck run "$pod-worker-1" || fail "the healthcheck on a worker"
    log "healthcheck: healthy ($(podman inspect --format '{{.Config.Healthcheck.Test}}' "$pod-coordinator"))"
    [[ "$(podman logs "$pod-coordinator" 2>&1)" == *"gRPC with TLS"* ]] || fail "the coordinator does not serve TLS"
    healthy=1
  fi
  grep -q '"state": *"done"' <<< "$status" && break
  [ "$SECONDS" -lt "$deadline" ] || { podman logs --tail 20 "$pod-coordinator" >&2; fail "no end within $RUN_TIMEOUT_S s"; }
  sleep 2
done
[ "$healthy" -eq 1 ] || fail "the job ended before the healthcheck could run"
for i in 1 2; do
  rc=$(timeout 60 podman wait "$pod-worker-$i" || echo "none within 60 s")
  log "worker $i exited $rc: $(podman logs "$pod-worker-$i" 2>&1 | tail -1)"
  [ "$rc" = 0 ] || fail "worker $i did not leave when the job was done"
done
podman stop --time 30 "$pod-coordinator" > /dev/null 2>> "$work/run.log"
coordinator_rc=$(podman wait "$pod-coordinator")
final=$(podman logs "$pod-coordinator" 2>&1 | grep "final:" || true)
log "coordinator stopped, exit $coordinator_rc: ${final#*final: }"
if [ "$coordinator_rc" -ne 0 ] || [[ "$final" != *state=done* ]]; then
  podman logs --tail 30 "$pod-coordinator" >&2
  fail "the coordinator's end"
fi

# The state volume holds the finished run: a coordinator started on it
# resumes it, and says so.
podman run --rm --pod "$pod" --read-only --tmpfs /run/secrets "${coordinator_options[@]}" "$IMAGE" "${coordinator_command[@]}" \
  --exit_when_done > "$work/resume.log" 2>&1 || true
resumed=$(grep -o "resumed from .*" "$work/resume.log" || true)
[[ "$resumed" == *"(the run was already done)"* ]] || { cat "$work/resume.log" >&2; fail "the state volume"; }
log "a coordinator on the state volume: $resumed"
log "PASS"
