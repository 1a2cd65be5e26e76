child=$!
sig=
trap 'sig=15; kill -TERM -- -$child 2>/dev/null' TERM
trap 'sig=2; kill -INT -- -$child 2>/dev/null' INT
( sleep {timeout} && : >"$d/timed_out" && kill -TERM -- -$child 2>/dev/null; sleep {grace} && kill -KILL -- -$child 2>/dev/null ) >/dev/null 2>&1 &
watchdog=$!
set +m
while :; do wait "$child"; rc=$?; kill -0 "$child" 2>/dev/null || break; done
{{ kill -- -$watchdog; wait "$watchdog"; }} 2>/dev/null
if [ -e "$d/timed_out" ]; then finish "exit=$rc" timeout=1
elif [ -n "$sig" ]; then finish "exit=$rc" "signal=$sig"
else finish "exit=$rc"; fi
exit $rc
