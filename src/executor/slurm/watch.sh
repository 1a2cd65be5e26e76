__execq_child=$!
__execq_sig=
trap '__execq_sig=15; kill -TERM -- -$__execq_child 2>/dev/null' TERM
trap '__execq_sig=2; kill -INT -- -$__execq_child 2>/dev/null' INT
( sleep {timeout} && : >"$__execq_dir/timed_out" && kill -TERM -- -$__execq_child; sleep {grace} && kill -KILL -- -$__execq_child ) >/dev/null 2>&1 &
__execq_watchdog=$!
set +m
while :; do wait "$__execq_child" 2>/dev/null; __execq_rc=$?; kill -0 "$__execq_child" 2>/dev/null || break; done
{{ kill -- -$__execq_watchdog; wait "$__execq_watchdog"; }} 2>/dev/null
if [ -e "$__execq_dir/timed_out" ]; then __execq_finish "exit=$__execq_rc" timeout=1
elif [ -n "$__execq_sig" ]; then __execq_finish "exit=$__execq_rc" "signal=$__execq_sig"
else __execq_finish "exit=$__execq_rc"; fi
exit $__execq_rc
