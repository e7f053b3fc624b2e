# SPDX-License-Identifier: Apache-2.0
# Purpose: sourced by the bench scripts: a synthetic SIZE x SIZE scene in $W and a run config
# for it with the demo model (tile $TILE, stitch $STITCH, $THREADS threads per process).
# Needs A (the atrous binary), W, SRC, SIZE, TILE, STITCH and THREADS set.
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
  stitch: $STITCH
output:
  path: $W/out.h5
  probabilities: uint8
runtime:
  threads: $THREADS
EOC
