#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: the once-outside-CI check that the FULL-width seed U-Net (64..1024 filters, levels 4-5
# dilated) gives PyTorch's numbers through `atrous run`, not just the reduced-width fixtures.
"""Full seed U-Net: PyTorch vs `atrous run`.

Builds the seed U-Net in PyTorch (tools/seed_models.py) with He-initialized weights (fixed seed),
writes it as a Keras model.save HDF5 (tools/export_keras.py), writes a random float32 GeoTIFF,
runs `atrous run` on it with float32 probabilities, and prints the max abs difference from the
PyTorch forward pass (float64) over every pixel.

    tools/check_full_unet.py --atrous build/atrous [--size 256] [--tile 256] [--threads 2]
"""

import argparse
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch
from osgeo import gdal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_keras  # noqa: E402
import make_model_fixtures  # noqa: E402
import seed_models  # noqa: E402


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--atrous", required=True, help="the atrous executable")
    p.add_argument("--size", type=int, default=256, help="image edge (pixels)")
    p.add_argument("--tile", type=int, default=256, help="tile.size for atrous")
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)

    gen = torch.Generator().manual_seed(2012)
    model = seed_models.SeedUnet(filters=args.filters, depth=5, dilation=[1, 1, 1, 2, 2])
    make_model_fixtures.he_init(model, gen)
    model.eval()
    x = torch.rand((1, args.size, args.size, 1), generator=gen) * 2.0 - 1.0
    make_model_fixtures.calibrate_head(model, x)
    with torch.no_grad():
        want = model.double()(x.double().permute(0, 3, 1, 2))[0, 0].numpy()
    model.float()

    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "unet.h5")
        export_keras.write_keras_h5(weights, model.keras_layers(), "full")
        image = os.path.join(tmp, "image.tif")
        ds = gdal.GetDriverByName("GTiff").Create(image, args.size, args.size, 1, gdal.GDT_Float32)
        ds.SetGeoTransform([500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5])
        ds.GetRasterBand(1).WriteArray(x[0, :, :, 0].numpy())
        ds = None
        out = os.path.join(tmp, "out.h5")
        cmd = [args.atrous, "run", os.path.join(os.path.dirname(__file__), "..", "configs",
                                                 "geotiff_unet.yaml"),
               "--set", "input.path=" + image, "--set", "input.bands=[1]",
               "--set", "input.normalize.scale=1", "--set", "input.normalize.offset=0",
               "--set", "model.weights=" + weights, "--set", "output.path=" + out,
               "--set", "output.probabilities=float32", "--set", "tile.size=%d" % args.tile,
               "--set", "tile.halo=exact", "--set", "runtime.threads=%d" % args.threads]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        with h5py.File(out, "r") as f:
            got = f["probability"][0]
    err = np.abs(got.astype(np.float64) - want)
    print("full seed U-Net (filters %d), %dx%d, tile %d: max abs error %.3g, mean %.3g, "
          "probabilities in [%.3f, %.3f]" % (args.filters, args.size, args.size, args.tile,
                                            err.max(), err.mean(), want.min(), want.max()))
    return 0 if err.max() <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
