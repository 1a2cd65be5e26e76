#!/usr/bin/env bash
# Builds execq in release mode, the way scripts/install.sh installs it, and prints the binary's path.
#
# On Linux with glibc the binary is linked statically (-C target-feature=+crt-static): with no
# shared libraries to load it starts in about 0.6 ms instead of 0.9 ms, a cost paid by every drain
# launchd or systemd starts and by every `execq submit` (see BENCHMARKS.md). `--target` keeps the
# flag off build scripts and proc-macros, which must stay dynamic. Elsewhere (macOS, where nothing
# links statically) it is an ordinary release build.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
  *-linux-gnu)
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
      cargo build --release --locked --quiet --manifest-path "$here/Cargo.toml" --target "$host"
    echo "$here/target/$host/release/execq"
    ;;
  *)
    cargo build --release --locked --quiet --manifest-path "$here/Cargo.toml"
    echo "$here/target/release/execq"
    ;;
esac
