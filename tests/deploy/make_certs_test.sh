#!/usr/bin/env bash
# deploy/make-certs.sh: what it writes passes `openssl verify` for its
# purpose (server, client), names every host in the server certificate, keeps
# keys private, and a second run (one more client) signs with the same CA, so
# what the first made stays valid. Exits 77 (ctest: skipped) without openssl.
set -euo pipefail
script="$(cd "$(dirname "$0")/../.." && pwd)/deploy/make-certs.sh"
command -v openssl > /dev/null || { echo "SKIP: openssl is not installed"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$script" "$out" coordinator 127.0.0.1 --clients=alice > /dev/null
cd "$out"
openssl verify -CAfile ca.pem -purpose sslserver server.pem || fail "server.pem does not verify as a server"
openssl verify -CAfile ca.pem -purpose sslclient client-alice.pem || fail "client-alice.pem does not verify as a client"
if openssl verify -CAfile ca.pem -purpose sslserver client-alice.pem > /dev/null 2>&1; then
  fail "a client certificate verifies as a server's"
fi
san=$(openssl x509 -in server.pem -noout -ext subjectAltName)
[[ "$san" == *"DNS:coordinator"* && "$san" == *"IP Address:127.0.0.1"* ]] || fail "server SAN: $san"
for name in server client-alice; do
  [ "$(openssl x509 -in "$name.pem" -noout -pubkey)" = "$(openssl pkey -in "$name.key" -pubout)" ] \
    || fail "$name.key is not the key of $name.pem"
done
for key in ca.key server.key client-alice.key; do
  [ "$(stat -c %a "$key")" = 600 ] || fail "$key has mode $(stat -c %a "$key")"
done

ca=$(openssl x509 -in ca.pem -noout -fingerprint -sha256)
"$script" "$out" --clients=bob > /dev/null
[ "$(openssl x509 -in ca.pem -noout -fingerprint -sha256)" = "$ca" ] || fail "a second run replaced the CA"
openssl verify -CAfile ca.pem server.pem client-alice.pem client-bob.pem || fail "after a second run"
echo "PASS"
