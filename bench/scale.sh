#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Purpose: MPI scaling of `atrous run`: wall time, per-rank tiles/s and scaling efficiency for 1, 2
# and 4 ranks (1 thread each), and the cost of recording progress (flushes per tile) and publishing.
# Usage: bench/scale.sh [BUILD_DIR] [SIZE] [TILE]     (defaults: build 1024 128)
# Ranks beyond the core count are oversubscribed (say so when quoting the numbers).
set -euo pipefail
B=$(readlink -f "${1:-build}")
SIZE=${2:-1024}
TILE=${3:-128}
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/atrous-scale.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
A=$B/atrous
"$A" synth --out "$W/scene.tif" --truth "$W/truth.tif" --size "$SIZE" --seed 1 >/dev/null
cat > "$W/run.yaml" <<EOC
input:
  path: $W/scene.tif
  bands: [1]
  normalize: {scale: 0.00392156862745098}
model:
  weights: $SRC/models/demo.h5
tile:
  size: $TILE
output:
  path: $W/out.h5
  probabilities: uint8
runtime:
  threads: 1
EOC
echo "scene ${SIZE}x${SIZE}, tile $TILE, demo model, 1 thread per rank, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
t1=
printf '%-6s %-9s %-10s %-40s %s\n' ranks wall_s tiles/s per-rank_tiles/s efficiency
for n in 1 2 4; do
    rm -f "$W"/out.*
    start=$(date +%s.%N)
    if [ "$n" = 1 ]; then
        out=$("$A" run "$W/run.yaml" --log-format plain --no-preview 2>&1)
    else
        out=$(mpirun -np "$n" --bind-to none "$A" run "$W/run.yaml" --log-format plain --no-preview 2>&1)
    fi
    end=$(date +%s.%N)
    wall=$(echo "$end - $start" | bc -l)
    tiles=$(echo "$out" | sed -n 's/.*done: \([0-9]*\) tiles.*/\1/p' | head -1)
    per=$(echo "$out" | sed -n 's/^rank \([0-9]*\)\/[0-9]*: \([0-9]*\) tiles in .*, \([0-9.]*\) tiles\/s/r\1:\2@\3/p' | sort | tr '\n' ' ')
    [ -n "$per" ] || per="r0:$tiles"
    [ -n "$t1" ] || t1=$wall
    eff=$(echo "$t1 / ($n * $wall)" | bc -l)
    printf '%-6s %-9.2f %-10.2f %-40s %.2f\n' "$n" "$wall" "$(echo "$tiles / $wall" | bc -l)" "$per" "$eff"
done

# Progress recording: the write stage (block writes + 2 flushes per tile) and the publish copy.
rm -f "$W"/out.*
"$A" run "$W/run.yaml" --log-format plain --no-preview >/dev/null
python3 - "$W/out.report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["seconds"]
print(f"1 rank: total {s['wall']:.2f} s, write stage {s['write']:.3f} s "
      f"({100 * s['write'] / s['wall']:.1f}% of the run: partial-file writes, flush after data and "
      f"after the tile_done mark, final copy into the chunked/deflate file)")
PY
