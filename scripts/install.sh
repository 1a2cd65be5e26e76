#!/usr/bin/env bash
# Builds execq, installs the binary with cargo, and installs the background service (a launchd
# LaunchAgent on macOS, systemd user units on Linux). Running it again reinstalls.
# Arguments go to `execq service install`: --queue DIR, --label LABEL, --dry-run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cargo install --quiet --locked --path "$here"
bin="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin/execq"
"$bin" service install --bin "$bin" "$@"
echo "Check on it any time with: $bin status"
