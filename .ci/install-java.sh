#!/usr/bin/env bash
# Make a Java runtime available for the Spark tests (tests/test_spark.py); idempotent.
# Never fails CI: without apt-get (or without rights) it says why, and the Spark tests skip.
set -u
if java -version >/dev/null 2>&1; then
    echo "install-java: $(java -version 2>&1 | head -n 1) already present"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-java: no java and no apt-get; the Spark tests will be skipped"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "install-java: not root and no sudo; the Spark tests will be skipped"
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless; then
    echo "install-java: $(java -version 2>&1 | head -n 1) installed"
else
    echo "install-java: apt-get could not install openjdk-17-jre-headless; the Spark tests will be skipped"
fi
exit 0
