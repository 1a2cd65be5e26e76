#!/usr/bin/env bash
# Builds execq in release mode, the way scripts/install.sh installs it, and prints the binary's path.
#
# On Linux with glibc the binary is linked statically (-C target-feature=+crt-static): with no
# shared libraries to load it starts in about 0.6 ms instead of 0.9 ms, a cost paid by every drain
# launchd or systemd starts and by every `execq submit` (see BENCHMARKS.md). `--target` keeps the
# flag off build scripts and proc-macros, which must stay dynamic. Where glibc's static library is
# missing (Fedora ships it as glibc-static) it falls back to the ordinary build, which behaves the
# same. Elsewhere (macOS, where nothing links statically) it is an ordinary release build.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=(cargo build --release --locked --quiet --manifest-path "$here/Cargo.toml")
host=$(rustc -vV | sed -n 's/^host: //p')
if [[ $host == *-linux-gnu ]]; then
  log=$(mktemp)
  if RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" "${build[@]}" --target "$host" 2>"$log"; then
    rm -f "$log"
    echo "$here/target/$host/release/execq"
    exit 0
  fi
  echo "build.sh: the static build failed (is glibc's static library installed?); building the ordinary one. Its errors:" >&2
  tail -n 5 "$log" >&2
  rm -f "$log"
fi
"${build[@]}"
echo "$here/target/release/execq"
