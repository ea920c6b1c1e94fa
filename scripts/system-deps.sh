#!/usr/bin/env bash
# Install the Debian packages Comptoir needs, non-interactively when root.
# Usage: scripts/system-deps.sh run|test
set -euo pipefail

runtime=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1
         fonts-dejavu-core fonts-liberation2)
testing=(postgresql postgresql-contrib redis-server chromium poppler-utils wrk)

wanted=("${runtime[@]}")
[ "${1:-run}" = test ] && wanted+=("${testing[@]}")

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "system-deps: missing Debian packages. Run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  [ "${1:-run}" = test ] && exit 1
  echo "system-deps: continuing; PDF invoices need the libraries above." >&2
fi
