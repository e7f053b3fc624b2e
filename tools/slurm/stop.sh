#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Stop the daemons started by start.sh, by PID from their pidfiles (no pkill/killall).
ROOT=${1:-$PWD/.slurm-rt}
stop_pid() { # name pidfile
  local f=$2; [ -s "$f" ] || return 0
  local p; p=$(cat "$f")
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p"
    for i in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { echo "$1 ($p) did not exit in 15s, SIGKILL"; kill -KILL "$p"; }
  fi
  echo "$1 ($p) stopped"; rm -f "$f"
}
stop_pid slurmd    "$ROOT/run/slurmd.pid"
stop_pid slurmctld "$ROOT/run/slurmctld.pid"
stop_pid slurmdbd  "$ROOT/run/slurmdbd.pid"
stop_pid mariadbd  "$ROOT/mysqlrun/mariadbd.pid"
stop_pid munged    /run/munge/munged.pid
