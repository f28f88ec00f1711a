#!/bin/sh
# Write RabbitMQ's users, with their passwords from the environment, to the definitions file the broker imports
# first at boot (01-users.json, before 02-definitions.json grants them their rights), then run COMMAND.
#
#   render-users.sh OUTPUT [COMMAND [ARG...]]
#
# Each role's password comes from TRADEBUS_<ROLE>_BROKER_PASSWORD and is required. It is also written unescaped
# into AMQP URLs, so it may hold only letters, digits and . _ ~ - (make one with: openssl rand -hex 24).
set -eu

out=$1
shift

users=""
for role in admin monitor data strategy execution portfolio; do
    var="TRADEBUS_$(echo "$role" | tr a-z A-Z)_BROKER_PASSWORD"
    eval "password=\${$var:-}"
    case "$password" in
        "") echo "render-users: $var is not set" >&2; exit 64 ;;
        *[!A-Za-z0-9._~-]*) echo "render-users: $var may hold only letters, digits and . _ ~ -" >&2; exit 64 ;;
    esac
    if [ "${#password}" -lt 12 ]; then
        echo "render-users: $var is shorter than 12 characters" >&2
        exit 64
    fi
    case "$role" in
        admin) tags='"administrator"' ;;
        monitor) tags='"monitoring"' ;;
        *) tags='' ;;
    esac
    [ -z "$users" ] || users="$users,
"
    users="$users$(printf '    {"name": "tradebus-%s", "password": "%s", "tags": [%s]}' "$role" "$password" "$tags")"
done

umask 077
mkdir -p "$(dirname "$out")"
printf '{\n  "users": [\n%s\n  ]\n}\n' "$users" > "$out"
# the broker drops root before it reads the file
if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
    chown rabbitmq:rabbitmq "$out"
fi
if [ $# -gt 0 ]; then
    exec "$@"
fi
