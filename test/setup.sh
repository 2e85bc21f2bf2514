#!/usr/bin/env bash
# What the tests need from Debian: pgbouncer (the receiver through transaction
# pooling), chromium (the live page in a real browser) and prometheus (its
# promtool for the alert rules' unit tests, and a real Prometheus scraping a
# receiver and shippers).
exec bash "$(dirname "$0")/../dev/apt-install.sh" /usr/sbin/pgbouncer=pgbouncer chromium=chromium /usr/bin/promtool=prometheus
