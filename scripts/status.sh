#!/usr/bin/env bash
# The seed's status.sh: the queue's health (exit status 0 when healthy), the newest jobs, and the
# end of daemon.log. Usage: scripts/status.sh [--queue DIR]
set -uo pipefail
if [ "${1:-}" = "--queue" ] && [ -n "${2:-}" ]; then
  export EXECQ_QUEUE="$2"
fi
bin=$(command -v execq || echo "${CARGO_HOME:-$HOME/.cargo}/bin/execq")
"$bin" status
healthy=$?
echo
"$bin" list --limit 10
echo
"$bin" logs -n 10
exit "$healthy"
