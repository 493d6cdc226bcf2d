#!/usr/bin/env bash
# Installs the system packages the test suite needs when they are missing: a PostgreSQL
# server (engines-agree tests), a Java runtime (the local Spark session) and Chromium (the
# report opened in a real headless browser, driven by Playwright against this browser).
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
have_java() { command -v java >/dev/null 2>&1; }
have_chromium() { [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; }

missing=()
have_postgres || missing+=(postgresql)
have_java || missing+=(default-jre-headless)
have_chromium || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: ${missing[*]} missing and cannot be installed here (needs root and apt-get);" \
       "the tests that need them will be skipped" >&2
  exit 0
fi
echo "installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
