#!/usr/bin/env bash
# apt-install.sh NAME WHAT PACKAGE...: install Debian packages for one group of tests (NAME
# prefixes each line; WHAT names the tests that skip without them). Never fails CI: without
# apt-get, rights or the packages it says why and exits 0, and those tests skip with the reason.
set -uo pipefail
NAME=$1 WHAT=$2
shift 2
if ! command -v apt-get >/dev/null 2>&1; then
    echo "$NAME: no apt-get on this machine; $WHAT will be skipped"
    exit 0
fi
SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "$NAME: not root and no passwordless sudo; $WHAT will be skipped"
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
install() {
    $SUDO apt-get install -y -q "$@"
}
# Update the package lists only when they do not know the packages yet.
if ! apt-cache show "${@: -1}" >/dev/null 2>&1; then
    $SUDO apt-get update -q || echo "$NAME: apt-get update failed"
fi
if install "$@" >"/tmp/$NAME.log" 2>&1 \
    || { $SUDO apt-get update -q >/dev/null 2>&1 && install "$@" >>"/tmp/$NAME.log" 2>&1; }; then
    echo "$NAME: installed $*"
    exit 0
fi
echo "$NAME: apt-get install failed (see /tmp/$NAME.log):"
tail -n 5 "/tmp/$NAME.log"
echo "$NAME: $WHAT will be skipped"
exit 0
