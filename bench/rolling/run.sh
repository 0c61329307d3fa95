#!/usr/bin/env bash
# Rolling restart and key rotation under load behind nginx: installs
# Debian's nginx when it is missing, then runs bench/rolling from the
# module root. Flags go to bench/rolling (-short is what .ci/run runs).
set -euo pipefail
cd "$(dirname "$0")/../.."

# The load tool that drives the logins.
LOAD_TOOL=./bench/wxload

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq && apt-get install -y -qq nginx >/dev/null
fi
export PATH="$PATH:/usr/sbin"
exec go run ./bench/rolling -load-tool "$LOAD_TOOL" "$@"
