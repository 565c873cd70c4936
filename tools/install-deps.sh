#!/usr/bin/env bash
# Installs what building, running and testing Tributary needs, from Debian 12
# packages only. Safe to run again: it installs only what is missing.
#
# --hardening adds clang and its sanitizer and libFuzzer runtimes, which only
# the test path needs (tools/check-hardening.sh, tools/fuzz.sh): running a
# coordinator or a worker never pulls in a second compiler. --test adds the
# real systems the end-to-end tests drive (tools/test.sh): Chromium for the
# dashboard, Prometheus and promtool for /metrics, PyTorch for the reference
# forward pass that checks tributary-export --format=hf, tmux for the
# worker's status line on a real terminal.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache curl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libeigen3-dev libssl-dev zlib1g-dev libgtest-dev libgmock-dev
  libcpp-httplib-dev nlohmann-json3-dev libbenchmark-dev openssl
  dataset-fashion-mnist fortunes
  iproute2 python3  # deploy/netns-cluster.sh and its test: ip, tc; the summary's JSON
)
for arg in "$@"; do
  case "$arg" in
    --hardening) packages+=(clang-14 libclang-rt-14-dev) ;;
    --test) packages+=(chromium fonts-dejavu-core prometheus python3-torch tmux) ;;
    *) echo "usage: tools/install-deps.sh [--hardening] [--test]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tributary: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian starts the packaged Prometheus as a service; the tests start
  # their own on 127.0.0.1, so a machine that only runs them keeps none.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    $sudo_cmd systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi
