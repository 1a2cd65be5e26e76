#!/usr/bin/env bash
# Type-checks and lints execq, tests included, for macOS (aarch64 and x86_64).
#
# On Linux there is no macOS SDK to link against, so this checks and lints but does not build or
# run anything. It uses Debian's Rust toolchain, which ships the standard library's source, to
# build `std` for the Apple targets (-Zbuild-std, allowed by RUSTC_BOOTSTRAP for this one
# process). It installs those packages when missing and leaves the rustup toolchain alone: every
# tool is called by its /usr/bin path and the output goes to target/macos.
#
# On a Mac it runs the same check and lint natively for the Apple targets that are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(aarch64-apple-darwin x86_64-apple-darwin)

if [ "$(uname -s)" = Darwin ]; then
  for target in "${targets[@]}"; do
    if rustup target list --installed 2>/dev/null | grep -qx "$target"; then
      cargo clippy --locked --all-targets --target "$target" -- -D warnings
    else
      echo "check-macos: $target is not installed (rustup target add $target); skipped" >&2
    fi
  done
  exit 0
fi

packages=(rustc-web cargo-web rust-web-src rust-web-clippy)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
fi

# /usr/bin first so that `cargo clippy` finds Debian's cargo-clippy and clippy-driver, not rustup's.
export PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=target/macos
unset RUSTC_WRAPPER RUSTFLAGS
start=$SECONDS
for target in "${targets[@]}"; do
  echo "check-macos: $target"
  /usr/bin/cargo check --locked --all-targets -Zbuild-std=std,panic_abort --target "$target"
  /usr/bin/cargo clippy --locked --all-targets -Zbuild-std=std,panic_abort --target "$target" \
    -- -D warnings
done
echo "check-macos: ${targets[*]} type-check and lint clean in $((SECONDS - start)) s"
