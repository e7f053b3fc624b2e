#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Purpose: the cost of recording progress (fsync of the data, then the /progress/tile_done marks)
# on a realistic run: demo model, a synthetic SIZE x SIZE scene, every core, from the JSON report
# (seconds.progress vs seconds.wall), for the default batching and for a commit after every tile.
# Usage: bench/progress_overhead.sh [BUILD_DIR] [SIZE] [TILE]   (defaults: build 4096 256)
set -euo pipefail
B=$(readlink -f "${1:-build}")
SIZE=${2:-4096}
TILE=${3:-256}
SRC=$(cd "$(dirname "$0")/.." && pwd)
# The partial file goes where the output goes: a real disk (not tmpfs) makes fsync honest.
W=$(mktemp -d "${ATROUS_BENCH_DIR:-$SRC/build}/atrous-progress.XXXXXX")
trap 'rm -rf "$W"' EXIT
A=$B/atrous
STITCH=crop THREADS=0
source "$SRC/bench/demo_scene.sh"
echo "scene ${SIZE}x${SIZE}, tile $TILE, demo model, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "file system $(df -T "$W" | awk 'NR==2 {print $2}')"
for interval in ${INTERVALS:-1 0}; do
    rm -f "$W"/out.*
    "$A" run "$W/run.yaml" --log-format plain --no-preview --set "runtime.sync_interval=$interval" \
        >"$W/log" 2>&1
    /usr/bin/python3 - "$W/out.report.json" "$interval" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["seconds"]
print(f"runtime.sync_interval {sys.argv[2]} s: {r['tiles']['total']} tiles in {s['wall']:.2f} s, "
      f"progress recording {s['progress']:.3f} s = {100 * r['progress_fraction']:.2f} % of the run "
      f"(write stage {s['write']:.2f} s incl. publishing)")
PY
done
