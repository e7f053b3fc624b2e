#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: measure models/membrane.h5 through `atrous run`: a GeoTIFF mosaic of the held-out ISBI
# slices, segmented with configs/membrane.yaml, scored against the labels and compared pixel by
# pixel with the same model run whole-image in PyTorch.
"""Pixel accuracy and membrane F1 of `atrous run` on held-out ISBI 2012 slices, and its
agreement with PyTorch.

  tools/eval_membrane.py [--atrous build/atrous] [--slices 25,26,27,28,29]
                         [--min-accuracy 0.90] [--min-f1 0.75] [--max-diff 1e-4]
                         [--no-torch] [--keep DIR]

Builds a uint8 GeoTIFF mosaic of the slices side by side (5 slices: 2560 x 512) in a temporary
directory, runs `atrous run configs/membrane.yaml` on it (tile 256, exact halo, input scaled by
1/255 as in training) and compares the output's /mask with the labels.
Polarity (as trained by tools/train.py): the model outputs P(cell interior); labels are
255 = cell interior, 0 = membrane; so mask 1 = cell interior and membrane = mask 0 = label 0.
Membrane F1 = 2 TP / (2 TP + FP + FN) with membrane as the positive class.
atrous writes float32 probabilities (output.probabilities=float32); the weights of the same .h5
are loaded into tools/seed_models.SeedUnet (tools/make_membrane_fixture.load_keras_h5) and run
on the whole mosaic (float32, 1 thread); the largest |P_atrous - P_torch| over every pixel must be
<= --max-diff (the exact halo makes the tiled run equal to a whole-image run).
Exit status: 0 when all targets are met, 1 when not, 77 (skip) when the data set
(../shared/data/em_membrane_isbi2012_unet) is absent.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data", "em_membrane_isbi2012_unet", "train")
SKIP = 77


def read_png(path):
    from osgeo import gdal

    gdal.UseExceptions()
    ds = gdal.Open(path)  # keep the dataset alive while its band is read
    return ds.GetRasterBand(1).ReadAsArray()


def write_mosaic(path, image):
    from osgeo import gdal, osr

    gdal.UseExceptions()
    h, w = image.shape
    ds = gdal.GetDriverByName("GTiff").Create(path, w, h, 1, gdal.GDT_Byte,
                                              ["TILED=YES", "COMPRESS=DEFLATE"])
    # An arbitrary but valid grid (UTM 33N, 1 m pixels): atrous copies it to the output.
    ds.SetGeoTransform([500000.0, 1.0, 0.0, 4000000.0, 0.0, -1.0])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(image)
    ds = None


def membrane_scores(mask, label):
    """mask: 1 = cell interior; label: 255 = cell interior, 0 = membrane."""
    pred = np.asarray(mask) == 0
    truth = np.asarray(label) <= 127
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    return {"accuracy": float((pred == truth).mean()),
            "membrane_f1": 2 * tp / max(2 * tp + fp + fn, 1),
            "membrane_iou": tp / max(tp + fp + fn, 1)}


def torch_probabilities(weights, mosaic, scale):
    """P(cell interior) of the mosaic (uint8, H x W) by the PyTorch SeedUnet (float32)."""
    import torch

    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import make_membrane_fixture

    torch.set_num_threads(1)
    model = make_membrane_fixture.load_keras_h5(weights)
    # the float32 values atrous feeds the model (v * scale in float32), float32 like atrous
    x = mosaic.astype(np.float32) * np.float32(scale)
    with torch.no_grad():
        y = model(torch.from_numpy(x[None, None])).numpy()
    return y[0, 0].astype(np.float64)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--atrous", default=os.path.join(ROOT, "build", "atrous"))
    p.add_argument("--config", default=os.path.join(ROOT, "configs", "membrane.yaml"))
    p.add_argument("--weights", default=os.path.join(ROOT, "models", "membrane.h5"))
    p.add_argument("--data", default=DATA, help="folder with image/ and label/")
    p.add_argument("--slices", default="25,26,27,28,29", help="held out from training")
    p.add_argument("--threads", type=int, default=0, help="runtime.threads (0: all)")
    p.add_argument("--tile", type=int, default=0,
                   help="tile.size override (default: the config's; the halo is exact, so the "
                   "mask does not depend on it, only the cost does)")
    p.add_argument("--min-accuracy", type=float, default=0.90)
    p.add_argument("--min-f1", type=float, default=0.75)
    p.add_argument("--max-diff", type=float, default=1e-4,
                   help="largest allowed |P_atrous - P_torch| over all pixels")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--keep", help="write the mosaic and the output here instead of a temp dir")
    a = p.parse_args(argv)

    if not os.path.isdir(os.path.join(a.data, "image")):
        print("SKIP: the ISBI 2012 membrane data is not at %s (../shared/data is not part of "
              "the repository)" % os.path.normpath(a.data))
        return SKIP
    import h5py

    slices = [int(s) for s in a.slices.split(",")]
    images = [read_png(os.path.join(a.data, "image", "%d.png" % s)) for s in slices]
    labels = [read_png(os.path.join(a.data, "label", "%d.png" % s)) for s in slices]
    mosaic, truth = np.concatenate(images, axis=1), np.concatenate(labels, axis=1)

    with tempfile.TemporaryDirectory() as tmp:
        work = a.keep or tmp
        os.makedirs(work, exist_ok=True)
        image = os.path.join(work, "membrane_mosaic.tif")
        out = os.path.join(work, "membrane_mask.h5")
        write_mosaic(image, mosaic)
        if os.path.exists(out):
            os.remove(out)
        cmd = [a.atrous, "run", a.config, "--set", "input.path=" + image,
               "--set", "model.weights=" + a.weights, "--set", "output.path=" + out,
               "--set", "runtime.threads=%d" % a.threads,
               "--set", "output.probabilities=float32", "--no-preview"]
        if a.tile:
            cmd += ["--set", "tile.size=%d" % a.tile]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        with h5py.File(out, "r") as f:
            mask = np.asarray(f["mask"])
            prob = np.asarray(f["probability"], dtype=np.float64)
    mask = mask.reshape(mask.shape[-2:]) if mask.ndim == 3 else mask
    if mask.shape != truth.shape:
        print("FAIL: /mask is %s, the mosaic %s" % (mask.shape, truth.shape))
        return 1

    w = images[0].shape[1]
    for i, s in enumerate(slices):
        r = membrane_scores(mask[:, i * w:(i + 1) * w], truth[:, i * w:(i + 1) * w])
        print("slice %d: accuracy %.4f membrane F1 %.4f membrane IoU %.4f"
              % (s, r["accuracy"], r["membrane_f1"], r["membrane_iou"]))
    r = membrane_scores(mask, truth)
    print("all %d slices (%dx%d): pixel accuracy %.4f (target >= %.2f), membrane F1 %.4f "
          "(target >= %.2f), membrane IoU %.4f"
          % (len(slices), truth.shape[1], truth.shape[0], r["accuracy"], a.min_accuracy,
             r["membrane_f1"], a.min_f1, r["membrane_iou"]))
    ok = r["accuracy"] >= a.min_accuracy and r["membrane_f1"] >= a.min_f1
    if not a.no_torch:
        import yaml

        with open(a.config) as f:
            scale = yaml.safe_load(f)["input"]["normalize"]["scale"]
        ref = torch_probabilities(a.weights, mosaic, scale)
        prob = prob.reshape(prob.shape[-2:]) if prob.ndim == 3 else prob
        if prob.shape != ref.shape or np.isnan(prob).any():
            print("FAIL: /probability is %s (NaN: %s), PyTorch %s"
                  % (prob.shape, bool(np.isnan(prob).any()), ref.shape))
            return 1
        diff = np.abs(prob - ref)
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
        print("atrous vs PyTorch (whole mosaic): max |dP| %.3g at row %d col %d, "
              "mean %.3g over %d pixels (target <= %.0e); masks differ at %d pixels"
              % (diff.max(), worst[0], worst[1], diff.mean(), diff.size, a.max_diff,
                 int(((ref > 0.5) != (mask == 1)).sum())))
        ok = ok and diff.max() <= a.max_diff
    print("PASS" if ok else "FAIL: below target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
