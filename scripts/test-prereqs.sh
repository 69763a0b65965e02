#!/usr/bin/env bash
# Things the test suite needs beyond Python packages: headless Chromium (Debian's package)
# for the browser tests. Installed when missing and we are root (CI is); otherwise the
# browser tests skip and say why.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests ..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "WARNING: could not install chromium; browser tests will skip"
  else
    echo "NOTE: chromium is not installed (apt-get install chromium); browser tests will skip"
  fi
fi
