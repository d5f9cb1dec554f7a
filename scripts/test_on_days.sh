#!/usr/bin/env bash
# Run the test suite with the clock moved to other days of the week (libfaketime), to prove it
# does not depend on when it runs: forex does not tick at weekends, and CI runs any day.
#
#   scripts/test_on_days.sh [WHEN...] [-- PYTEST-ARGS...]
#
# WHEN is a date(1) expression, e.g. "next saturday 12:00" (the default list covers a
# Saturday, a Wednesday, and a Sunday and a Friday three minutes before forex opens and closes
# at 22:00 UTC, so the suite runs across the change). The
# offset is relative (faketime "+Ns"), so every process of a run — pytest, the daemons it
# starts, their PostgreSQL — agrees on the time. The monotonic clock is moved by the same
# offset (harmless; FAKETIME_DONT_FAKE_MONOTONIC=1 makes time.sleep fail with EINVAL in
# libfaketime 0.9.10). Needs Debian's faketime package.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v faketime >/dev/null || { echo "faketime is not installed (apt-get install faketime)" >&2; exit 2; }

days=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do days+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
if [ ${#days[@]} -eq 0 ]; then
  days=("next saturday 12:00 UTC" "next sunday 21:57 UTC" "next wednesday 10:00 UTC" "next friday 21:57 UTC")
fi

status=0
for when in "${days[@]}"; do
  target=$(date -u -d "$when" +%s)
  offset=$(( target - $(date -u +%s) ))
  echo "== suite at $(date -u -d "@$target" '+%a %F %T UTC') (clock offset ${offset}s) =="
  if ! faketime -f "+${offset}s" .venv/bin/pytest -q -p no:cacheprovider "$@"; then
    status=1
  fi
done
exit "$status"
