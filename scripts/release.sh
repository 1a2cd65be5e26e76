#!/usr/bin/env bash
# Makes a release from the current commit, into dist/:
#   execq-VERSION.tar.gz                              the source (git archive)
#   execq-VERSION-x86_64-unknown-linux-gnu.tar.gz     the static Linux binary, its completions,
#                                                     manual page, README and licences
#   SHA256SUMS                                        both, for `sha256sum -c`
#   execq.rb                                          the Homebrew formula for this release
#
#   scripts/release.sh VERSION [--check]
#
# Reproducible: the binary is built from the source tarball, unpacked in a fresh folder whose
# path is remapped out of the binary, with the commit's time as every timestamp; the archives
# are sorted, owner-less and gzip'd without names or times. --check builds everything a second
# time in another folder and fails unless every file is byte for byte the same.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:?usage: scripts/release.sh VERSION [--check]}
check=${2:-}
manifest=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
if [ "$version" != "$manifest" ]; then
  echo "release: Cargo.toml says version $manifest, not $version: change it and commit first" >&2
  exit 1
fi
if ! git diff --quiet HEAD --; then
  echo "release: the work tree has changes; a release is made from a commit (commit or stash them)" >&2
  exit 1
fi
host=x86_64-unknown-linux-gnu
if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "release: the release binary is built on x86_64 Linux" >&2
  exit 1
fi
commit=$(git rev-parse HEAD)
epoch=$(git log -1 --format=%ct HEAD)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
export SOURCE_DATE_EPOCH=$epoch TZ=UTC LC_ALL=C

# Writes the release into $1.
make_release() {
  local out=$1 work name bin
  work=$(mktemp -d)
  mkdir -p "$out"
  git archive --format=tar --prefix="execq-$version/" "$commit" | gzip -n -9 >"$out/execq-$version.tar.gz"
  tar -xzf "$out/execq-$version.tar.gz" -C "$work"
  (
    cd "$work/execq-$version"
    EXECQ_COMMIT=${commit:0:12} CARGO_INCREMENTAL=0 \
      RUSTFLAGS="-C target-feature=+crt-static --remap-path-prefix=$work=/build --remap-path-prefix=$cargo_home=/cargo" \
      cargo build --release --locked --quiet --target "$host"
  )
  bin=$work/execq-$version/target/$host/release/execq
  name=execq-$version-$host
  mkdir -p "$work/$name/completions" "$work/$name/man"
  cp "$bin" "$work/$name/execq"
  "$bin" completions bash >"$work/$name/completions/execq.bash"
  "$bin" completions zsh >"$work/$name/completions/_execq"
  "$bin" completions fish >"$work/$name/completions/execq.fish"
  "$bin" man >"$work/$name/man/execq.1"
  cp README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE "$work/$name/"
  tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=gnu \
    -C "$work" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz"
  (cd "$out" && sha256sum "execq-$version.tar.gz" "$name.tar.gz" >SHA256SUMS)
  sed -e "s/@VERSION@/$version/g" \
    -e "s/@SHA256@/$(sha256sum "$out/execq-$version.tar.gz" | cut -d' ' -f1)/" \
    packaging/homebrew/execq.rb >"$out/execq.rb"
  rm -rf "$work"
}

rm -rf dist
make_release dist
cat dist/SHA256SUMS
if [ "$check" = --check ]; then
  again=$(mktemp -d)
  make_release "$again"
  if diff -r dist "$again" >/dev/null; then
    echo "release: reproducible: a second build in another folder gave the same bytes"
  else
    echo "release: NOT reproducible: the second build differs:" >&2
    diff <(cat dist/SHA256SUMS) <(cat "$again/SHA256SUMS") >&2 || true
    exit 1
  fi
  rm -rf "$again"
fi
