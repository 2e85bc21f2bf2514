#!/usr/bin/env bash
# Installs Debian packages that are missing, once. Arguments are
# "path-or-command=package" pairs: the package is installed when the path does
# not exist and no command of that name is on PATH. Services the packages
# bring are not started (policy-rc.d): ferry's tests and benchmarks run their
# own instances, with their own configuration.
set -euo pipefail
need=()
for pair in "$@"; do
  have=${pair%%=*}
  pkg=${pair#*=}
  if [ -e "$have" ] || command -v "$have" >/dev/null 2>&1; then continue; fi
  if [ -n "$(find /usr/lib -name "$(basename "$have")" 2>/dev/null | head -1)" ]; then continue; fi
  need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}" >&2
SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
policy=/usr/sbin/policy-rc.d
created=""
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null; $SUDO chmod +x "$policy"; created=1; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [ -n "$created" ]; then $SUDO rm -f "$policy"; fi
