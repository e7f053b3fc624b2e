#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: measure models/demo.h5 the way users meet it: `atrous demo` on a synthetic scene, the
# written /mask scored against the generator's truth.tif (IoU, accuracy).
"""IoU of `atrous demo`'s mask against the synthetic scene's truth.

  tools/eval_demo.py [--atrous build/atrous] [--size 2048] [--min-iou 0.90] [--keep DIR]

`atrous demo --size N` writes scene.tif + truth.tif (the C++ generator, seed 1; the blob layout
depends on N, so each size is a different scene) and segments it with configs/demo.yaml and
models/demo.h5. Nodata pixels (mask 255) are left out of the scores.
Exit status 0 when IoU >= --min-iou, 1 otherwise.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--atrous", default=os.path.join(ROOT, "build", "atrous"))
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--min-iou", type=float, default=0.90)
    p.add_argument("--keep", help="demo output folder (default: a temporary one)")
    a = p.parse_args(argv)
    import h5py
    from osgeo import gdal

    gdal.UseExceptions()
    with tempfile.TemporaryDirectory() as tmp:
        out = a.keep or tmp
        cmd = [a.atrous, "demo", "--out", out, "--size", str(a.size)]
        if a.threads:
            cmd += ["--threads", str(a.threads)]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        ds = gdal.Open(os.path.join(out, "truth.tif"))
        truth = ds.GetRasterBand(1).ReadAsArray() > 0
        ds = None
        with h5py.File(os.path.join(out, "mask.h5"), "r") as f:
            mask = np.asarray(f["mask"])
    mask = mask.reshape(truth.shape)
    valid = mask != 255
    pred, truth = (mask == 1)[valid], truth[valid]
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    iou = tp / max(tp + fp + fn, 1)
    print("demo scene %dx%d (%d valid pixels): IoU %.4f (target >= %.2f), F1 %.4f, "
          "pixel accuracy %.4f" % (a.size, a.size, int(valid.sum()), iou, a.min_iou,
                                   2 * tp / max(2 * tp + fp + fn, 1),
                                   float((pred == truth).mean())))
    return 0 if iou >= a.min_iou else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
