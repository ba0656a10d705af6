#!/usr/bin/env bash
# Install Debian's chromium and chromium-driver for the report's browser test
# (tests/test_report_browser.py). Idempotent, and never fails CI: where the packages cannot
# be installed it says why, and the test is then skipped with the reason.
set -uo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    echo "install-chromium: chromium and chromedriver already installed"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no apt-get on this machine; the browser test will be skipped"
    exit 0
fi
SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-chromium: not root and no passwordless sudo; the browser test will be skipped"
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
install() {
    $SUDO apt-get install -y -q chromium chromium-driver
}
# Update the package lists only when they do not know the packages yet.
if ! apt-cache show chromium-driver >/dev/null 2>&1; then
    $SUDO apt-get update -q || echo "install-chromium: apt-get update failed"
fi
if install >/tmp/install-chromium.log 2>&1 \
    || { $SUDO apt-get update -q >/dev/null 2>&1 && install >>/tmp/install-chromium.log 2>&1; }; then
    echo "install-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
else
    echo "install-chromium: apt-get install failed (see /tmp/install-chromium.log):"
    tail -n 5 /tmp/install-chromium.log
    echo "install-chromium: the browser test will be skipped"
fi
exit 0
