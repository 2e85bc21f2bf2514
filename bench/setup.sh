#!/usr/bin/env bash
# What the benchmark baselines need from Debian: psql (the \copy ceiling) and
# rsyslog with its PostgreSQL output (the peer).
exec bash "$(dirname "$0")/../dev/apt-install.sh" psql=postgresql-client /usr/sbin/rsyslogd=rsyslog ompgsql.so=rsyslog-pgsql
