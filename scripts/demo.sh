#!/usr/bin/env bash
# Runs a real drain end to end: builds execq, queues the seed design's example jobs (plus one made
# with `execq submit`) in a fresh temporary queue, drains it, and shows what landed where.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
execq="$here/target/release/execq"

queue="$(mktemp -d "${TMPDIR:-/tmp}/execq-demo.XXXXXX")/queue"
"$execq" --queue "$queue" submit --id from-submit --description "made by execq submit" -- echo "Hello from execq submit"
# -p keeps the fixtures' old modification times, as if a producer had written them a while ago.
cp -p "$here"/tests/fixtures/seed-jobs/* "$queue/pending/"

echo "== queued in $queue/pending"
ls -1 "$queue/pending"
echo
echo "== execq drain"
"$execq" --queue "$queue" drain -v || true
echo
echo "== execq list"
"$execq" --queue "$queue" list
echo
for state in completed failed; do
  echo "== $state/"
  ls -1 "$queue/$state"
done
echo
echo "== completed/01-echo.json (the seed's record format)"
cat "$queue/completed/01-echo.json"
echo
echo "== daemon.log"
cat "$queue/daemon.log"
echo
echo "Queue kept at $queue"
