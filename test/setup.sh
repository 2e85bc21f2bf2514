#!/usr/bin/env bash
# What the tests need from Debian: pgbouncer (the receiver through transaction
# pooling) and chromium (the live page in a real browser).
exec bash "$(dirname "$0")/../dev/apt-install.sh" /usr/sbin/pgbouncer=pgbouncer chromium=chromium
