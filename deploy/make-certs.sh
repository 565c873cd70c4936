#!/usr/bin/env bash
# Makes the TLS certificates of a Tributary deployment with openssl: a CA,
# a server certificate for the coordinator and client certificates for
# workers (mutual TLS), all EC P-256 keys signed by that CA.
#
#   deploy/make-certs.sh [--clients=NAME,...] [--force] OUT_DIR [HOST_OR_IP...]
#
#   OUT_DIR          where the files go (made if missing):
#                      ca.pem, ca.key            the CA (valid 10 years)
#                      server.pem, server.key    with every HOST_OR_IP in its
#                                                subjectAltName (valid 825 days)
#                      client-NAME.pem/.key      one per --clients name, its
#                                                common name NAME (825 days)
#   HOST_OR_IP       names and addresses workers dial (--coordinator=HOST:PORT);
#                    each one they use must be listed. Without any, no server
#                    certificate is made (to add clients to an existing CA).
#   --clients=A,B    client certificates for these names ([A-Za-z0-9._-]).
#   --force          replace an existing CA (what it signed stops being
#                    trusted). Without it, an existing CA in OUT_DIR is
#                    reused to sign, never overwritten: running again (say
#                    with one more client) keeps what it made before valid.
#
# Keys are written mode 600; ca.key stays with the operator, never on a
# coordinator or worker. Then:
#   tributary-coordinator --tls_cert=server.pem --tls_key=server.key \
#       [--tls_client_ca=ca.pem]
#   tributary-worker --coordinator=HOST:7070 --tls_ca=ca.pem \
#       [--tls_cert=client-NAME.pem --tls_key=client-NAME.key]
set -euo pipefail

readonly CA_DAYS=3650
readonly CERT_DAYS=825

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
  echo "make-certs.sh: $*" >&2
  exit 1
}

out_dir=""
hosts=()
clients=()
force=0
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --force) force=1 ;;
    --clients=*) IFS=',' read -r -a clients <<< "${arg#--clients=}" ;;
    -*) die "unknown option $arg (see --help)" ;;
    *) if [ -z "$out_dir" ]; then out_dir="$arg"; else hosts+=("$arg"); fi ;;
  esac
done
[ -n "$out_dir" ] || die "no OUT_DIR given (see --help)"
[ ${#hosts[@]} -gt 0 ] || [ ${#clients[@]} -gt 0 ] || die "nothing to make: give HOST_OR_IP... and/or --clients=NAME,..."
command -v openssl > /dev/null || die "openssl is not installed (apt-get install openssl)"
for name in "${clients[@]}"; do
  [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || die "client name \"$name\": use only letters, digits, '.', '_' and '-'"
done
for host in "${hosts[@]}"; do
  [[ "$host" =~ ^[A-Za-z0-9.:-]+$ ]] || die "\"$host\" is not a host name or IP address"
done

mkdir -p "$out_dir"
cd "$out_dir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2> /dev/null
  chmod 600 "$1"
}

# sign NAME SUBJECT EXTENSIONS: NAME.pem from a fresh NAME.key, signed by the CA.
sign() {
  local name=$1 subject=$2 extensions=$3
  new_key "$name.key"
  openssl req -new -key "$name.key" -subj "$subject" -out "$work/$name.csr"
  printf '%s\n' "$extensions" > "$work/$name.ext"
  openssl x509 -req -in "$work/$name.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
    -days "$CERT_DAYS" -sha256 -extfile "$work/$name.ext" -out "$name.pem" 2> /dev/null
  chmod 644 "$name.pem"
  echo "  $out_dir/$name.pem, $out_dir/$name.key"
}

if [ -e ca.pem ] || [ -e ca.key ]; then
  if [ "$force" -eq 0 ]; then
    [ -e ca.pem ] && [ -e ca.key ] || die "$out_dir holds only half a CA (ca.pem or ca.key); --force makes a new one"
    echo "make-certs.sh: signing with the existing CA $out_dir/ca.pem (--force replaces it)"
  else
    rm -f ca.pem ca.key
  fi
fi
if [ ! -e ca.pem ]; then
  new_key ca.key
  openssl req -x509 -new -key ca.key -sha256 -days "$CA_DAYS" -subj "/CN=Tributary CA $(date -u +%Y-%m-%d)" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
  chmod 644 ca.pem
  echo "make-certs.sh: new CA $out_dir/ca.pem (keep ca.key private)"
fi

if [ ${#hosts[@]} -gt 0 ]; then
  san=""
  for host in "${hosts[@]}"; do
    if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then entry="IP:$host"; else entry="DNS:$host"; fi
    san="${san:+$san,}$entry"
  done
  echo "make-certs.sh: server certificate for $san"
  sign server "/CN=${hosts[0]}" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san"
fi
for name in "${clients[@]}"; do
  echo "make-certs.sh: client certificate for $name"
  sign "client-$name" "/CN=$name" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
done
