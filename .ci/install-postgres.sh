#!/usr/bin/env bash
# Install Debian's postgresql for the PostgreSQL source and write-back tests
# (tests/test_warehouse.py). The tests start their own throwaway cluster (one per test
# session: initdb in a temporary directory, 127.0.0.1 on a free port, run as the 'postgres'
# user when root; tests/postgres_server.py) and remove it at the end; nothing is left running.
# Idempotent, and never fails CI (.ci/apt-install.sh): the tests then skip with the reason.
set -uo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "install-postgres: $(ls -d /usr/lib/postgresql/*/ | head -n 1) already installed"
    exit 0
fi
bash "$(dirname "$0")/apt-install.sh" install-postgres "the PostgreSQL tests" \
    --no-install-recommends postgresql
