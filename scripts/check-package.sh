#!/usr/bin/env bash
# Checks what would be published and packaged (CI runs it):
#   - `cargo package --list`: what `cargo install execq` needs is in the crate (the code, the
#     launchd and systemd templates it compiles in, README, licences) and nothing else (no tests,
#     fixtures, benchmarks, CI, packaging), and no file is over 256 KiB;
#   - `cargo publish --dry-run --locked`: the crate builds from what is packaged;
#   - `ruby -c` on the Homebrew formula (Debian's ruby is installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

list=$(cargo package --list --locked --allow-dirty)
fail=0
for needed in Cargo.toml Cargo.lock build.rs README.md LICENSE-MIT LICENSE-APACHE src/main.rs \
  src/lib.rs launchd/execq.plist.in systemd/execq.service.in systemd/execq.path.in \
  systemd/execq.timer.in src/dashboard/app.js src/dashboard/style.css; do
  grep -qx "$needed" <<<"$list" || { echo "check-package: $needed is missing from the crate" >&2; fail=1; }
done
if unwanted=$(grep -E '^(tests|scripts|docs|packaging|\.ci|dist|target)/' <<<"$list"); then
  echo "check-package: the crate would include files it does not need:" >&2
  echo "$unwanted" >&2
  fail=1
fi
while read -r file; do
  [ -f "$file" ] || continue
  size=$(wc -c <"$file")
  if [ "$size" -gt 262144 ]; then
    echo "check-package: $file is $size bytes (over 256 KiB)" >&2
    fail=1
  fi
done <<<"$list"
[ "$fail" -eq 0 ] || exit 1
echo "check-package: $(wc -l <<<"$list") files, all needed, none over 256 KiB"

cargo publish --dry-run --locked --allow-dirty --quiet
echo "check-package: cargo publish --dry-run passed"

if ! command -v ruby >/dev/null; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq ruby >/dev/null
fi
ruby -c packaging/homebrew/execq.rb
