#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: train models/texture_classifier.h5 (the seed SeparableConv2D classifier on synthetic
# 28 x 28 textures) and measure it end to end through `atrous run` on a GeoTIFF mosaic of tiles.
"""Texture classifier: data, training, export and the end-to-end check.

  tools/train_classifier.py train [--out models/texture_classifier.h5] [--epochs 6]
  tools/train_classifier.py eval  [--atrous build/atrous] [--min-accuracy 0.9] [--keep DIR]

Data (numpy, fixed seeds): 8 classes of 28 x 28 uint8 patches, each with a random brightness,
contrast and additive noise: 0 horizontal stripes, 1 vertical stripes, 2 diagonal stripes (/),
3 diagonal stripes (\\), 4 checkerboard, 5 coarse blobs (smoothed noise), 6 fine noise,
7 linear ramp. Stripe and checker periods 4-9 px, angles jittered by up to 8 degrees.
train: 1200 patches per class (seed 1), validation: 300 per class (seed 2); the model is trained
on v / 255 with Adam (lr 2e-3, batch 64), 1 thread, and exported by tools/export_keras.py in the
full model.save layout.
eval: a mosaic of 24 x 16 tiles of 28 px (seed 3, never used in training; each tile one class)
is written as a georeferenced uint8 GeoTIFF and run with configs/texture_classifier.yaml; /class
(one value per tile) is compared with the truth grid, and with the PyTorch prediction of the same
tiles. Exit 0 when the accuracy >= --min-accuracy, 1 when not.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
CLASSES = ["horizontal stripes", "vertical stripes", "diagonal stripes /", "diagonal stripes \\",
           "checkerboard", "coarse blobs", "fine noise", "ramp"]
SIZE = 28


def _smooth(noise, sigma):
    """Gaussian smoothing of a batch (n, SIZE, SIZE) by FFT (periodic)."""
    f = np.fft.fftfreq(SIZE)
    g = np.exp(-2 * (np.pi * sigma) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    out = np.real(np.fft.ifft2(np.fft.fft2(noise) * g))
    return out / (out.std(axis=(1, 2), keepdims=True) + 1e-9)


def textures(per_class, seed):
    """(images uint8 (n, SIZE, SIZE), labels int64 (n,)), classes interleaved."""
    rng = np.random.default_rng(seed)
    n = per_class * len(CLASSES)
    labels = np.tile(np.arange(len(CLASSES)), per_class)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    images = np.empty((n, SIZE, SIZE))
    base_angle = {0: 90.0, 1: 0.0, 2: 45.0, 3: 135.0}
    for i, c in enumerate(labels):
        period = rng.uniform(4, 9)
        phase = rng.uniform(0, 2 * np.pi)
        if c in base_angle or c == 4:
            a = np.radians(base_angle.get(c, 0.0) + rng.uniform(-8, 8))
            u = xx * np.cos(a) + yy * np.sin(a)
            if c == 4:
                v = -xx * np.sin(a) + yy * np.cos(a)
                t = np.sign(np.sin(2 * np.pi * u / period + phase)
                            * np.sin(2 * np.pi * v / period + rng.uniform(0, 2 * np.pi)))
            else:
                t = np.sin(2 * np.pi * u / period + phase)
        elif c == 5:
            t = _smooth(rng.normal(size=(1, SIZE, SIZE)), rng.uniform(2.0, 3.5))[0]
        elif c == 6:
            t = rng.normal(size=(SIZE, SIZE))
        else:
            a = rng.uniform(0, 2 * np.pi)
            t = ((xx - SIZE / 2) * np.cos(a) + (yy - SIZE / 2) * np.sin(a)) / (SIZE / 2)
        brightness, contrast = rng.uniform(70, 180), rng.uniform(25, 60)
        images[i] = brightness + contrast * t + rng.normal(0, rng.uniform(2, 12), (SIZE, SIZE))
    return np.clip(np.round(images), 0, 255).astype(np.uint8), labels.astype(np.int64)


def to_input(images):
    """uint8 (n, H, W) -> float32 NCHW in [0, 1], exactly as atrous scales by 1/255."""
    return (images.astype(np.float32) * np.float32(1 / 255))[:, None]


def predict(model, images):
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(to_input(images))).numpy()


def train(a):
    import torch

    import export_keras
    import seed_models

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    xtr, ytr = textures(a.per_class, 1)
    xva, yva = textures(a.per_class // 4, 2)
    model = seed_models.SeedClassifier(classes=len(CLASSES))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = torch.from_numpy(to_input(xtr)), torch.from_numpy(ytr)
    gen = torch.Generator().manual_seed(a.seed)
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(y), generator=gen)
        total = 0.0
        for k in range(0, len(y), 64):
            idx = perm[k:k + 64]
            p = model(x[idx])
            loss = torch.nn.functional.nll_loss(torch.log(p.clamp_min(1e-7)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        model.eval()
        acc = float((predict(model, xva).argmax(1) == yva).mean())
        print("epoch %d: loss %.4f, validation accuracy %.4f" % (epoch + 1, total / len(y), acc),
              flush=True)
    params = sum(p.numel() for p in model.parameters())
    export_keras.write_keras_h5(a.out, model.keras_layers(), layout="full")
    print("wrote %s (%d parameters, %d bytes); validation accuracy %.4f on %d patches"
          % (a.out, params, os.path.getsize(a.out), acc, len(yva)))
    return 0


def load_classifier(path):
    """A SeedClassifier with the weights of a full-layout file written by export_keras."""
    import h5py
    import torch

    import seed_models

    with h5py.File(path, "r") as f:
        g = f["model_weights"]
        dense = np.asarray(g["dense"]["dense"]["kernel:0"])
        model = seed_models.SeedClassifier(classes=dense.shape[1])
        with torch.no_grad():
            for name, mod in (("separable_conv2d", model.conv1),
                              ("separable_conv2d_1", model.conv2)):
                w = g[name][name]
                mod.depthwise.weight.copy_(torch.from_numpy(
                    np.asarray(w["depthwise_kernel:0"])).permute(2, 3, 0, 1))
                mod.pointwise.weight.copy_(torch.from_numpy(
                    np.asarray(w["pointwise_kernel:0"])).permute(3, 2, 0, 1))
                mod.pointwise.bias.copy_(torch.from_numpy(np.asarray(w["bias:0"])))
            model.dense.weight.copy_(torch.from_numpy(dense.T))
            model.dense.bias.copy_(torch.from_numpy(np.asarray(g["dense"]["dense"]["bias:0"])))
    return model.eval()


def write_mosaic(path, image):
    from osgeo import gdal, osr

    gdal.UseExceptions()
    h, w = image.shape
    ds = gdal.GetDriverByName("GTiff").Create(path, w, h, 1, gdal.GDT_Byte, ["COMPRESS=DEFLATE"])
    ds.SetGeoTransform([500000.0, 1.0, 0.0, 4000000.0, 0.0, -1.0])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(image)
    ds = None


def evaluate(a):
    import h5py

    cols, rows = 24, 16
    images, labels = textures(cols * rows // len(CLASSES), 3)
    order = np.random.default_rng(4).permutation(len(labels))  # classes scattered over the grid
    images, labels = images[order], labels[order]
    truth = labels.reshape(rows, cols)
    mosaic = images.reshape(rows, cols, SIZE, SIZE).transpose(0, 2, 1, 3).reshape(
        rows * SIZE, cols * SIZE)
    with tempfile.TemporaryDirectory() as tmp:
        work = a.keep or tmp
        os.makedirs(work, exist_ok=True)
        image = os.path.join(work, "texture_mosaic.tif")
        out = os.path.join(work, "texture_classes.h5")
        write_mosaic(image, mosaic)
        if os.path.exists(out):
            os.remove(out)
        cmd = [a.atrous, "run", a.config, "--set", "input.path=" + image,
               "--set", "model.weights=" + a.weights, "--set", "output.path=" + out,
               "--set", "runtime.threads=%d" % a.threads, "--no-preview"]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        with h5py.File(out, "r") as f:
            cls = np.asarray(f["class"])
            prob = np.asarray(f["class_probability"], dtype=np.float64)
    if cls.shape != truth.shape:
        print("FAIL: /class is %s, the tile grid %s" % (cls.shape, truth.shape))
        return 1
    acc = float((cls == truth).mean())
    for c, name in enumerate(CLASSES):
        sel = truth == c
        print("class %d %-20s %3d tiles, accuracy %.3f" % (c, name, sel.sum(),
                                                           (cls[sel] == c).mean()))
    line = "atrous /class vs truth: accuracy %.4f on %d tiles (target >= %.2f)" % (
        acc, truth.size, a.min_accuracy)
    if not a.no_torch:
        import torch

        torch.set_num_threads(1)
        p = predict(load_classifier(a.weights), images)
        ref = p.argmax(1).reshape(rows, cols)
        p = p.reshape(rows, cols, -1).transpose(2, 0, 1)
        line += ("; PyTorch accuracy %.4f, atrous == PyTorch on %d / %d tiles, "
                 "max |P_atrous - P_torch| %.3g" % (float((ref == truth).mean()),
                                                     int((ref == cls).sum()), truth.size,
                                                     np.abs(prob - p).max()))
    print(line)
    ok = acc >= a.min_accuracy
    print("PASS" if ok else "FAIL: below target")
    return 0 if ok else 1


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("train")
    t.add_argument("--out", default=os.path.join(ROOT, "models", "texture_classifier.h5"))
    t.add_argument("--epochs", type=int, default=6)
    t.add_argument("--per-class", type=int, default=1200)
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("eval")
    e.add_argument("--atrous", default=os.path.join(ROOT, "build", "atrous"))
    e.add_argument("--config", default=os.path.join(ROOT, "configs", "texture_classifier.yaml"))
    e.add_argument("--weights", default=os.path.join(ROOT, "models", "texture_classifier.h5"))
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--min-accuracy", type=float, default=0.9)
    e.add_argument("--no-torch", action="store_true")
    e.add_argument("--keep")
    a = p.parse_args(argv)
    return train(a) if a.mode == "train" else evaluate(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
