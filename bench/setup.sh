#!/usr/bin/env bash
# Installs what the benchmark baselines need from Debian's packages, once:
# psql (the \copy ceiling) and rsyslog with its PostgreSQL output (the peer).
set -euo pipefail
need=()
command -v psql >/dev/null || need+=(postgresql-client)
[ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/ompgsql.so ] || [ -n "$(find /usr/lib -name ompgsql.so 2>/dev/null | head -1)" ] || need+=(rsyslog-pgsql)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench setup: installing ${need[*]}" >&2
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  # The bench runs its own rsyslogd; keep the package from starting a system one.
  policy=/usr/sbin/policy-rc.d
  created=""
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null; $SUDO chmod +x "$policy"; created=1; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ -n "$created" ] && $SUDO rm -f "$policy"
fi
exit 0
