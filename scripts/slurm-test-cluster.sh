#!/usr/bin/env bash
# slurm-test-cluster.sh - install (if needed) and run a one-node Slurm cluster
# for tests, without systemd.
#
# Usage:
#   slurm-test-cluster.sh [start] [DIR]   install/start; the default command
#   slurm-test-cluster.sh stop [DIR]      stop slurmctld and slurmd (not munged)
#   slurm-test-cluster.sh status [DIR]    print the node state; exit 0 if up
#   slurm-test-cluster.sh DIR             same as "start DIR"
#
# DIR (default /tmp/execq-slurm) receives slurm.conf, logs, pid files, spool
# and state.  On success the last line printed is SLURM_CONF=<DIR>/slurm.conf,
# for callers to export, e.g.:
#   export "$(slurm-test-cluster.sh | tail -n 1)"
#
# Environment knobs (a new MSG_TIMEOUT rewrites slurm.conf and restarts):
#   SLURM_TEST_WAIT=60          seconds to wait for the node to become idle
#   SLURM_TEST_MSG_TIMEOUT=10   MessageTimeout; a client command facing a
#                               stopped slurmctld fails after about this - 1 s
set -euo pipefail

readonly DEFAULT_DIR=/tmp/execq-slurm
readonly NODE=localhost
readonly WAIT_SECONDS=${SLURM_TEST_WAIT:-60}
readonly MSG_TIMEOUT=${SLURM_TEST_MSG_TIMEOUT:-10}

cmd=start
case "${1:-}" in
    start | stop | status)
        cmd=$1
        shift
        ;;
    -h | --help)
        sed -n '2,19p' "$0"
        exit 0
        ;;
esac
dir=${1:-$DEFAULT_DIR}
case "$dir" in
    /*) ;;
    *) dir="$PWD/$dir" ;;
esac
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

log() { printf 'slurm-test-cluster: %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# The slurm.conf this script wants; compared with the one on disk so that a
# re-run with everything up touches nothing.
render_conf() {
    local cpus
    cpus=$(nproc)
    cat <<EOF
# Written by slurm-test-cluster.sh - one-node test cluster.
ClusterName=test
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Start batch jobs at once instead of on the default 3 s scheduling tick.
SchedulerParameters=batch_sched_delay=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmdSpoolDir=$dir/slurmd
StateSaveLocation=$dir/slurmctld
# Finished jobs stay visible to scontrol/squeue for this many seconds.
MinJobAge=300
# A node that was down (e.g. slurmd restarted) comes back by itself.
ReturnToService=2
KillWait=5
MessageTimeout=$MSG_TIMEOUT
InactiveLimit=0
NodeName=$NODE CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

# read_pid PIDFILE: print the pid in PIDFILE (the daemons remove it on exit).
read_pid() {
    local pid
    pid=$({ tr -dc '0-9' <"$1"; } 2>/dev/null) || return 1
    [[ -n "$pid" ]] || return 1
    printf '%s\n' "$pid"
}

# pid_alive NAME PID: true if PID is a live (not zombie) process called NAME.
pid_alive() {
    local name=$1 pid=$2 comm state
    [[ -n "$pid" ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ "$comm" == "$name" ]] || return 1
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null) || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# daemon_running NAME: true if $dir/NAME.pid names a live NAME process.
daemon_running() {
    local pid
    pid=$(read_pid "$dir/$1.pid") || return 1
    pid_alive "$1" "$pid"
}

# Compact state of our node as sinfo prints it (idle, mix, down*, ...).
# "scontrol ping" answers at once when slurmctld is down, whereas sinfo
# retries for about 9 s before failing.
node_state() {
    command -v sinfo >/dev/null 2>&1 || return 1
    [[ -r "$conf" ]] || return 1
    scontrol ping >/dev/null 2>&1 || return 1
    timeout 15 sinfo -h -n "$NODE" -o %t 2>/dev/null | head -n 1
}

node_up() {
    case "$(node_state || true)" in
        idle | mix | alloc | comp) return 0 ;;
        *) return 1 ;;
    esac
}

conf_current() {
    [[ -r "$conf" ]] && [[ "$(cat "$conf")" == "$(render_conf)" ]]
}

# Root is needed for everything except the quick checks.
need_root() {
    ((EUID == 0)) && return 0
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n -- env SLURM_TEST_WAIT="$WAIT_SECONDS" \
            SLURM_TEST_MSG_TIMEOUT="$MSG_TIMEOUT" "$0" "$cmd" "$dir"
    fi
    die "must run as root and 'sudo -n' does not work; run: sudo $0 $cmd $dir"
}

install_packages() {
    if command -v sbatch >/dev/null 2>&1 && command -v slurmctld >/dev/null 2>&1 &&
        command -v slurmd >/dev/null 2>&1 && command -v munged >/dev/null 2>&1; then
        return 0
    fi
    log "installing slurm-wlm and munge (apt-get)"
    local t0=$SECONDS
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
    log "installed in $((SECONDS - t0)) s"
}

munge_works() {
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1
}

start_munge() {
    local d
    for d in /etc/munge /var/lib/munge /var/log/munge; do
        [[ -d "$d" ]] || install -d -o munge -g munge -m 0700 "$d"
    done
    install -d -o munge -g munge -m 0755 /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        (
            umask 077
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        )
        chown munge:munge /etc/munge/munge.key
        chmod 0400 /etc/munge/munge.key
    fi
    munge_works && return 0
    log "starting munged"
    runuser -u munge -- munged --force 9>&-
    local i
    for ((i = 0; i < 50; i++)); do
        munge_works && return 0
        sleep 0.2
    done
    die "munged does not answer (see /var/log/munge/munged.log)"
}

# write_conf: (re)write slurm.conf; sets conf_changed=1 if it was different.
conf_changed=0
write_conf() {
    install -d -m 0755 "$dir" "$dir/slurmd" "$dir/slurmctld"
    conf_current && return 0
    render_conf >"$conf.tmp"
    mv -f "$conf.tmp" "$conf"
    chmod 0644 "$conf"
    conf_changed=1
    log "wrote $conf"
}

# stop_daemon NAME: SIGTERM the daemon named in our pid file, wait, SIGKILL.
stop_daemon() {
    local name=$1 pid i
    pid=$(read_pid "$dir/$name.pid") || return 0
    pid_alive "$name" "$pid" || return 0
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        pid_alive "$name" "$pid" || return 0
        sleep 0.2
    done
    log "$name did not exit after 30 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
}

stop_all() {
    stop_daemon slurmd
    stop_daemon slurmctld
}

show_logs() {
    local f
    for f in "$dir/slurmctld.log" "$dir/slurmd.log"; do
        [[ -r "$f" ]] || continue
        log "--- last lines of $f"
        tail -n 15 "$f" >&2 || true
    done
}

start_daemons() {
    if ! daemon_running slurmctld; then
        log "starting slurmctld"
        slurmctld -f "$conf" >>"$dir/slurmctld.out" 2>&1 9>&- ||
            {
                show_logs
                die "slurmctld failed to start"
            }
    fi
    if ! daemon_running slurmd; then
        log "starting slurmd"
        slurmd -f "$conf" -N "$NODE" >>"$dir/slurmd.out" 2>&1 9>&- ||
            {
                show_logs
                die "slurmd failed to start"
            }
    fi
}

wait_idle() {
    local deadline=$((SECONDS + WAIT_SECONDS)) state="" last_resume=-100
    while ((SECONDS < deadline)); do
        state=$(node_state || true)
        case "$state" in
            idle | mix | alloc | comp) return 0 ;;
            down | drain | drng | fail | failg | drain\* | down\* | fail\*)
                # Resume at most every 5 s; a not-responding node (*) needs
                # slurmd to register first, which ReturnToService=2 allows.
                if ((SECONDS - last_resume >= 5)); then
                    last_resume=$SECONDS
                    log "node is '$state'; resuming"
                    scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
                fi
                ;;
        esac
        sleep 0.5
    done
    show_logs
    die "node $NODE not idle after ${WAIT_SECONDS} s (state: '${state:-no answer}')"
}

# cluster_up: everything already runs with this configuration.
cluster_up() {
    command -v sbatch >/dev/null 2>&1 && conf_current &&
        daemon_running slurmctld && daemon_running slurmd && node_up
}

# Serialise concurrent callers (e.g. tests run in parallel) on DIR/.lock.
take_lock() {
    install -d -m 0755 "$dir"
    exec 9>"$dir/.lock"
    flock -w 180 9 || die "could not lock $dir/.lock within 180 s"
}

case "$cmd" in
    status)
        node_state || true
        node_up
        exit
        ;;
    stop)
        need_root
        take_lock
        stop_all
        log "stopped"
        exit 0
        ;;
esac

# start: quick path when everything is already up with this configuration.
if cluster_up; then
    echo "SLURM_CONF=$conf"
    exit 0
fi

need_root
take_lock
if ! cluster_up; then
    install_packages
    start_munge
    write_conf
    if ((conf_changed)); then
        # Configuration changed: restart whatever runs with the old one.
        stop_all
    fi
    start_daemons
    wait_idle
    log "node $NODE is $(node_state || true)"
fi
echo "SLURM_CONF=$conf"
