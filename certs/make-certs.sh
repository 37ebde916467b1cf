#!/usr/bin/env bash
# Makes a development PKI for etcd over TLS with client certificates, using openssl:
#   ca.pem / ca.key             a development CA
#   server.pem / server.key     etcd's certificate, for 127.0.0.1, ::1, localhost and *.reconfig.test (the tests' SRV names)
#   client.pem / client.key     reconfig's client certificate (CN=reconfig)
#   client-enc.key              the same client key, encrypted (AES-256) with the passphrase in $PASSPHRASE
#   other-ca.pem / other-ca.key a second CA that signed nothing the server uses: a client trusting only it must
#                               refuse the server
#   rogue-client.pem / .key     a client certificate signed by other-ca, which the server must refuse
#
# Usage: certs/make-certs.sh [outdir]       (default: the directory of this script)
# Keys are written 0600. None of them is committed (.gitignore); they are for tests and the demo only.
set -euo pipefail

out="${1:-$(cd "$(dirname "$0")" && pwd)}"
passphrase="${PASSPHRASE:-reconfig-dev}"
days=825
mkdir -p "$out"
cd "$out"
umask 077

if [ -s ca.pem ] && [ -s server.pem ] && [ -s client.pem ] && [ -s client-enc.key ] && [ -s rogue-client.pem ]; then
  echo "certs: already present in $out"
  exit 0
fi

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days "$days" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$1.pem"
}

leaf() { # name subject extensions [ca]
  local signer="${4:-ca}"
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$signer.pem" -CAkey "$signer.key" -CAcreateserial -sha256 -days "$days" \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "/CN=reconfig development CA"
ca other-ca "/CN=reconfig unrelated CA"
leaf server "/CN=etcd" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:*.reconfig.test"
leaf client "/CN=reconfig" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
leaf rogue-client "/CN=rogue" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth" other-ca
openssl pkcs8 -topk8 -v2 aes-256-cbc -in client.key -out client-enc.key -passout "pass:$passphrase"
rm -f ./*.srl
chmod 0644 ./*.pem
echo "certs: made in $out (encrypted client key: client-enc.key)"
