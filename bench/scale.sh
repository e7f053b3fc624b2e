#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Purpose: MPI scaling of `atrous run`: wall time, per-rank tiles/s and scaling efficiency for 1, 2
# and 4 ranks (1 thread each), from each run's JSON report (per_rank, gathered on rank 0).
# Usage: bench/scale.sh [BUILD_DIR] [SIZE] [TILE] [STITCH]   (defaults: build 1024 128 crop)
# Ranks beyond the core count are oversubscribed: the table says so.
set -euo pipefail
B=$(readlink -f "${1:-build}")
SIZE=${2:-1024}
TILE=${3:-128}
STITCH=${4:-crop}
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/atrous-scale.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
A=$B/atrous
CORES=$(nproc)
THREADS=1
source "$SRC/bench/demo_scene.sh"
echo "scene ${SIZE}x${SIZE}, tile $TILE, stitch $STITCH, demo model, 1 thread per rank," \
     "$CORES cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wall = the whole command (model load and publishing included); per rank: tiles @ tiles/s" \
     "(its tile loop), wait = seconds waiting for rank 0's dispenser; efficiency = T1 / (N * TN)"
printf '%-22s %-8s %-8s %-58s %s\n' ranks wall_s tiles/s "per rank: tiles @ tiles/s (wait s)" efficiency
t1=
for n in 1 2 4; do
    rm -f "$W"/out.*
    start=$(date +%s.%N)
    if [ "$n" = 1 ]; then
        "$A" run "$W/run.yaml" --log-format plain --no-preview >"$W/log" 2>&1
    else
        mpirun -np "$n" --bind-to none "$A" run "$W/run.yaml" --log-format plain --no-preview >"$W/log" 2>&1
    fi
    end=$(date +%s.%N)
    wall=$(echo "$end - $start" | bc -l)
    [ -n "$t1" ] || t1=$wall
    label="$n"
    [ "$n" -gt "$CORES" ] && label="$n (oversubscribed)"
    /usr/bin/python3 - "$W/out.report.json" "$label" "$wall" "$t1" "$n" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
label, wall, t1, n = sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
per = " ".join(f"{p['tiles']}@{p['tiles_per_s']:.2f}({p['wait_seconds']:.2f})" for p in r["per_rank"])
print(f"{label:<22} {wall:<8.2f} {r['tiles']['total'] / wall:<8.2f} {per:<58} {t1 / (n * wall):.2f}")
PY
done
