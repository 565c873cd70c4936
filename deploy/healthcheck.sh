#!/usr/bin/env bash
# The container image's HEALTHCHECK (/usr/local/bin/tributary-healthcheck):
# healthy while the coordinator answers GET /healthz with 200 on its --http
# address, read from its own command line (0.0.0.0 and [::] are asked on
# 127.0.0.1). A container running a worker, which has no endpoint and
# retries an unreachable coordinator by itself, is healthy while it runs.
# Only bash: the image holds no HTTP client.
set -u
http=127.0.0.1:8080  # the coordinator's default --http
found=0
for cmdline in /proc/[0-9]*/cmdline; do
  mapfile -d '' -t argv 2> /dev/null < "$cmdline" || continue
  [ "${#argv[@]}" -gt 0 ] && [ "${argv[0]##*/}" = tributary-coordinator ] || continue
  found=1
  for ((i = 1; i < ${#argv[@]}; i++)); do
    case "${argv[i]}" in
      --http=* | -http=*) http=${argv[i]#*=} ;;
      --http | -http) http=${argv[i + 1]:-$http} ;;
    esac
  done
  break
done
[ "$found" -eq 1 ] || exit 0

host=${http%:*}
port=${http##*:}
case "$host" in "" | 0.0.0.0 | "[::]") host=127.0.0.1 ;; esac
host=${host#[}
host=${host%]}
if ! { exec 3<> "/dev/tcp/$host/$port"; } 2> /dev/null; then
  echo "unhealthy: nothing listens on $http"
  exit 1
fi
printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$http" >&3
status_line=""
read -r -t 5 status_line <&3
case "$status_line" in
  "HTTP/1."[01]" 200"*) exit 0 ;;
esac
echo "unhealthy: GET http://$http/healthz: ${status_line:-no answer}"
exit 1
