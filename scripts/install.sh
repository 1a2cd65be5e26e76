#!/usr/bin/env bash
# Builds execq (scripts/build.sh), installs the binary in cargo's bin folder with its manual page
# (beside it, in ../share/man, where man finds it from PATH) and shell completions (bash, zsh,
# fish, in their per-user folders), and installs the background service (a launchd LaunchAgent on macOS, systemd user units on Linux). Running it
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
data=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$dir/../share/man/man1" "$data/bash-completion/completions" "$data/zsh/site-functions" \
  "${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions"
"$bin" man >"$dir/../share/man/man1/execq.1"
"$bin" completions bash >"$data/bash-completion/completions/execq"
"$bin" completions zsh >"$data/zsh/site-functions/_execq"
"$bin" completions fish >"${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions/execq.fish"
echo "Installed $bin, \`man execq\`, and completions (zsh: add $data/zsh/site-functions to fpath)."
"$bin" service install --bin "$bin" "$@"
echo "Check on it any time with: $bin status"
