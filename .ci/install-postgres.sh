#!/usr/bin/env bash
# Install Debian's postgresql for the PostgreSQL source and write-back tests
# (tests/test_warehouse.py). The tests start their own throwaway cluster (one per test
# session: initdb in a temporary directory, 127.0.0.1 on a free port, run as the 'postgres'
# user when root; tests/postgres_server.py) and remove it at the end; nothing is left running.
# Idempotent, and never fails CI: where the package cannot be installed it says why, and
# those tests then skip with the reason.
set -uo pipefail

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "install-postgres: $(ls -d /usr/lib/postgresql/*/ | head -n 1) already installed"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgres: no apt-get on this machine; the PostgreSQL tests will be skipped"
    exit 0
fi
SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-postgres: not root and no passwordless sudo; the PostgreSQL tests will be skipped"
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
install() {
    $SUDO apt-get install -y -q --no-install-recommends postgresql
}
if ! apt-cache show postgresql >/dev/null 2>&1; then
    $SUDO apt-get update -q || echo "install-postgres: apt-get update failed"
fi
if install >/tmp/install-postgres.log 2>&1 \
    || { $SUDO apt-get update -q >/dev/null 2>&1 && install >>/tmp/install-postgres.log 2>&1; }; then
    echo "install-postgres: installed $(ls -d /usr/lib/postgresql/*/ 2>/dev/null | head -n 1)"
else
    echo "install-postgres: apt-get install failed (see /tmp/install-postgres.log):"
    tail -n 5 /tmp/install-postgres.log
    echo "install-postgres: the PostgreSQL tests will be skipped"
fi
exit 0
