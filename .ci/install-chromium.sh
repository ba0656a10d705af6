#!/usr/bin/env bash
# Install Debian's chromium and chromium-driver for the report's browser test
# (tests/test_report_browser.py). Idempotent, and never fails CI (.ci/apt-install.sh): where
# the packages cannot be installed it says why, and the test is then skipped with the reason.
set -uo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    echo "install-chromium: chromium and chromedriver already installed"
    exit 0
fi
bash "$(dirname "$0")/apt-install.sh" install-chromium "the browser test" chromium chromium-driver
