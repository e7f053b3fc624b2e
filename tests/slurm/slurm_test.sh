#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Purpose: atrous under a real one-node SLURM (tools/slurm/start.sh): jobs/run.sbatch with 2 ranks
# (srun --mpi=pmix) gives the same bytes as a local run; jobs/requeue.sbatch requeued mid-run
# (scontrol requeue, then StartTime=now) resumes and finishes with the same bytes.
# Usage: slurm_test.sh ATROUS SOURCE_DIR WORK_DIR      exit 0 pass, 1 fail, 77 skipped
set -uo pipefail
ATROUS=$(readlink -f "$1")
SRC=$(readlink -f "$2")
W=$3
rm -rf "$W"
mkdir -p "$W"
W=$(readlink -f "$W")
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; for f in "$W"/*.out; do echo "--- $f"; cat "$f"; done; exit 1; }
for t in sbatch srun scontrol squeue slurmctld slurmd munged; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || skip "$t not installed (tools/install_deps.sh)"
done
[ "$(id -u)" -eq 0 ] || skip "needs root (SlurmUser=root, munged as munge)"

R=$W/slurm-rt
# The daemons may not run here (port taken by another SLURM, no munge key...): skip, do not fail.
if ! timeout 90 "$SRC/tools/slurm/start.sh" "$R" >"$W/start.log" 2>&1; then
    cat "$W/start.log"
    "$SRC/tools/slurm/stop.sh" "$R" >/dev/null 2>&1
    skip "slurmctld/slurmd did not start"
fi
trap '"$SRC/tools/slurm/stop.sh" "$R" >/dev/null 2>&1' EXIT
export SLURM_CONF=$R/slurm.conf
export ATROUS

# A small scene and configuration (those of the e2e tests), and the reference output.
/usr/bin/python3 - "$SRC" "$W" <<'PY' || fail "cannot make the scene"
import sys
sys.path.insert(0, sys.argv[1] + "/tests/e2e")
import e2e_test as e2e
class A: pass
a = A(); a.source = sys.argv[1]; a.work = sys.argv[2]
ctx = e2e.Context.__new__(e2e.Context)
ctx.dir = a.work; ctx.source = a.source
ctx.models = a.source + "/tests/fixtures/models"
e2e.write_geotiff(ctx.path("scene.tif"))
e2e.write_config(ctx, tile_size=32)
PY
cd "$W"
"$ATROUS" run run.yaml --quiet --set output.path="$W/ref.h5" --set runtime.threads=2 || fail "local run"
"$ATROUS" run run.yaml --quiet --set output.path="$W/ref8.h5" --set runtime.threads=2 \
    --set tile.size=8 --set tile.executor=tiles || fail "local run (tile 8)"

same() { # a b
    /usr/bin/python3 - "$SRC" "$1" "$2" <<'PY'
import sys
sys.path.insert(0, sys.argv[1] + "/tests/e2e")
import resume_test as r
try:
    r.same_output(sys.argv[2], sys.argv[3])
except r.Failure as e:
    print("FAIL", e); sys.exit(1)
PY
}

state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
# Waits (bounded) until job $1 has ended: a final JobState, or, once slurmctld forgot the job,
# no longer in squeue. (An empty squeue answer alone is not enough: under load squeue was seen
# to answer nothing for a requeued job still pending, and the test read its output too early.)
wait_gone() {
    local t=0 s
    while :; do
        s=$(state "$1")
        case "$s" in
            COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) break ;;
            "") [ -z "$(squeue -h -j "$1" -o %T 2>/dev/null)" ] && break ;;
        esac
        sleep 0.5; t=$((t + 1))
        [ $t -lt "${2:-180}" ] || { scontrol show job "$1"; fail "job $1 still queued after $(( ${2:-180} / 2 )) s"; }
    done
}

# 1. run.sbatch, 2 ranks, 1 thread each: same bytes as the local run.
jid=$(sbatch --parsable --chdir="$W" --output="$W/run-%j.out" --ntasks=2 --cpus-per-task=1 \
      "$SRC/jobs/run.sbatch" run.yaml --set output.path="$W/slurm.h5") || fail "sbatch run.sbatch"
echo "submitted run.sbatch: job $jid"
wait_gone "$jid" 180
cat "$W/run-$jid.out"
grep -q "rank 1/2:" "$W/run-$jid.out" || fail "run.sbatch did not run 2 ranks"
same "$W/ref.h5" "$W/slurm.h5" || fail "run.sbatch output differs from the local run"

# 2. requeue.sbatch requeued mid-run (atrous gets SIGTERM, saves progress), started again at once:
#    it resumes and finishes with the same bytes. One thread and the tile executor on 8 px tiles:
#    slow enough to catch it mid-run (the stream finishes this scene in a second).
jid=$(sbatch --parsable --chdir="$W" --output="$W/requeue-%j.out" --ntasks=2 --cpus-per-task=1 \
      "$SRC/jobs/requeue.sbatch" run.yaml --set output.path="$W/requeued.h5" --set tile.size=8 \
      --set tile.executor=tiles) \
    || fail "sbatch requeue.sbatch"
echo "submitted requeue.sbatch: job $jid"
P=$W/requeued.h5.partial
t=0
until [ -s "$P" ] && /usr/bin/python3 -c "import h5py,sys; f=h5py.File(sys.argv[1],'r'); sys.exit(0 if f['progress/tile_done'][()].sum() > 0 else 1)" "$P" 2>/dev/null; do
    sleep 0.2; t=$((t + 1))
    [ $t -lt 300 ] || fail "requeue job made no progress in 60 s"
    [ -e "$W/requeued.h5" ] && fail "requeue job finished before it could be requeued"
done
scontrol requeue "$jid" || fail "scontrol requeue"
t=0
until [ "$(state "$jid")" = PENDING ]; do
    sleep 0.2; t=$((t + 1)); [ $t -lt 150 ] || fail "job $jid not pending after requeue: $(state "$jid")"
done
[ -e "$W/requeued.h5" ] && fail "published although requeued mid-run"
scontrol update JobId="$jid" StartTime=now || fail "scontrol update StartTime=now"
wait_gone "$jid" 240
cat "$W/requeue-$jid.out"
grep -q "run 2 on" "$W/requeue-$jid.out" || fail "the job did not run a second time"
grep -q "resume " "$W/requeue-$jid.out" || fail "the second run did not resume"
same "$W/ref8.h5" "$W/requeued.h5" || fail "requeued output differs from the local run"
echo PASS
