#!/usr/bin/env bash
# What the benchmark needs from Debian: psql (the \copy ceiling), rsyslog with
# its PostgreSQL output (the peer), and chromium (the report is rendered and
# screenshotted in it).
exec bash "$(dirname "$0")/../dev/apt-install.sh" psql=postgresql-client /usr/sbin/rsyslogd=rsyslog ompgsql.so=rsyslog-pgsql chromium=chromium
