#!/bin/sh
# Make a throwaway CA and a server certificate for the broker (names: rabbitmq, localhost) in DIR
# (default deploy/tls/dev), for docker compose -f docker-compose.yml -f deploy/compose.tls.yml up.
# For anything but a local trial, use certificates from your own CA.
set -eu
dir=${1:-$(dirname "$0")/dev}
days=${DAYS:-365}
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:3072 -nodes -days "$days" -subj "/CN=tradebus dev CA" \
    -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -newkey rsa:3072 -nodes -subj "/CN=rabbitmq" -keyout server-key.pem -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:rabbitmq,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days "$days" \
    -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext ca.srl
# the broker runs as another user inside its container: it must be able to read its key
chmod 644 server-key.pem server.pem ca.pem
chmod 600 ca-key.pem
echo "certificates in $dir: ca.pem server.pem server-key.pem"
