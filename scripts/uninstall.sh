#!/usr/bin/env bash
# Stops and removes the background service. The queue and its records are left in place.
# Any arguments are passed to `execq service uninstall` (e.g. --label LABEL, --dry-run).
set -euo pipefail
bin=$(command -v execq || echo "${CARGO_HOME:-$HOME/.cargo}/bin/execq")
"$bin" service uninstall "$@"
