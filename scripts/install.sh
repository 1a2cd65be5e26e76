#!/usr/bin/env bash
# Builds execq (scripts/build.sh), installs the binary in cargo's bin folder, and installs the
# background service (a launchd LaunchAgent on macOS, systemd user units on Linux). Running it
# again reinstalls. Arguments go to `execq service install`: --queue DIR, --label LABEL, --dry-run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
built=$("$here/scripts/build.sh")
dir="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin"
bin="$dir/execq"
mkdir -p "$dir"
# Copied beside the old binary and renamed over it, so a drain running the old one is unaffected.
cp "$built" "$bin.new.$$"
chmod 0755 "$bin.new.$$"
mv -f "$bin.new.$$" "$bin"
"$bin" service install --bin "$bin" "$@"
echo "Check on it any time with: $bin status"
