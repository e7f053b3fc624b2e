#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: runtime.precision bf16 against fp32 on the shipped models and real data: the same
# `atrous run` twice (fp32, bf16), scored against the truth, masks and probabilities compared.
"""bf16 vs fp32 accuracy of the shipped models through `atrous run`.

  tools/eval_bf16.py [--atrous build/atrous] [--models membrane,demo,classifier]
                     [--data ../shared/data/em_membrane_isbi2012_unet/train] [--threads 2]
                     [--max-delta 0.005] [--min-agreement 0.998]

membrane: models/membrane.h5 on the held-out ISBI 2012 slices 25-29 (the mosaic and scores of
tools/eval_membrane.py): pixel accuracy and membrane F1 against the labels.
demo: models/demo.h5 on `atrous demo --size 1536`'s synthetic scene (as tools/eval_demo.py):
IoU and pixel accuracy against its truth.tif.
classifier: models/texture_classifier.h5 on the 24 x 16 texture mosaic of
tools/train_classifier.py eval: accuracy of /class.
For each: the metric in fp32 and bf16, the mask (class) agreement bf16 vs fp32 and the largest
and mean |P_bf16 - P_fp32| over every pixel (every class probability). Prints a Markdown table.
Exit status 0 when every metric of bf16 is within --max-delta of fp32 and every agreement is
>= --min-agreement; 1 otherwise; 77 (skip) when the CPU lacks avx512_bf16 or the membrane data
is absent (and membrane is asked for).
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
SKIP = 77


def run(a, config, image, weights, out, precision, extra=()):
    if os.path.exists(out):
        os.remove(out)
    cmd = [a.atrous, "run", config, "--set", "input.path=" + image,
           "--set", "model.weights=" + weights, "--set", "output.path=" + out,
           "--set", "runtime.threads=%d" % a.threads, "--set", "runtime.precision=" + precision,
           "--no-preview"] + list(extra)
    print(" ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def read(path, *names):
    import h5py

    with h5py.File(path, "r") as f:
        return [np.asarray(f[n]) for n in names]


def compare(p32, p16, m32, m16):
    d = np.abs(p16.astype(np.float64) - p32.astype(np.float64))
    return float((m32 == m16).mean()), float(d.max()), float(d.mean())


def membrane(a, tmp):
    import eval_membrane as em

    slices = [25, 26, 27, 28, 29]
    images = [em.read_png(os.path.join(a.data, "image", "%d.png" % s)) for s in slices]
    labels = [em.read_png(os.path.join(a.data, "label", "%d.png" % s)) for s in slices]
    mosaic, truth = np.concatenate(images, axis=1), np.concatenate(labels, axis=1)
    image = os.path.join(tmp, "membrane.tif")
    em.write_mosaic(image, mosaic)
    res = {}
    for prec in ("fp32", "bf16"):
        out = os.path.join(tmp, "membrane_%s.h5" % prec)
        run(a, os.path.join(ROOT, "configs", "membrane.yaml"), image,
            os.path.join(ROOT, "models", "membrane.h5"), out, prec,
            ["--set", "output.probabilities=float32"])
        mask, prob = read(out, "mask", "probability")
        mask, prob = mask.reshape(truth.shape), prob.reshape(truth.shape)
        s = em.membrane_scores(mask, truth)
        res[prec] = (mask, prob, {"pixel accuracy": s["accuracy"],
                                  "membrane F1": s["membrane_f1"]})
    return "membrane.h5, ISBI slices 25-29 (2560 x 512)", res


def demo(a, tmp):
    from osgeo import gdal

    gdal.UseExceptions()
    out_dir = os.path.join(tmp, "demo")
    # cwd: the binary's folder (a ccache build may record pipeline/cli/demo.cpp's path relative to
    # the build folder, and `atrous demo` finds configs/demo.yaml through it).
    subprocess.run([a.atrous, "demo", "--out", out_dir, "--size", "1536", "--threads",
                    str(a.threads)], check=True, stdout=subprocess.DEVNULL,
                   cwd=os.path.dirname(a.atrous))
    ds = gdal.Open(os.path.join(out_dir, "truth.tif"))
    truth = ds.GetRasterBand(1).ReadAsArray() > 0
    ds = None
    res = {}
    for prec in ("fp32", "bf16"):
        out = os.path.join(tmp, "demo_%s.h5" % prec)
        run(a, os.path.join(ROOT, "configs", "demo.yaml"), os.path.join(out_dir, "scene.tif"),
            os.path.join(ROOT, "models", "demo.h5"), out, prec,
            ["--set", "output.probabilities=float32"])
        mask, prob = read(out, "mask", "probability")
        mask, prob = mask.reshape(truth.shape), prob.reshape(truth.shape)
        valid = mask != 255
        pred, t = (mask == 1)[valid], truth[valid]
        tp, fp, fn = int((pred & t).sum()), int((pred & ~t).sum()), int((~pred & t).sum())
        res[prec] = (mask, np.nan_to_num(prob), {"IoU": tp / max(tp + fp + fn, 1),
                                                 "pixel accuracy": float((pred == t).mean())})
    return "demo.h5, `atrous demo --size 1536` scene", res


def classifier(a, tmp):
    import train_classifier as tc

    cols, rows = 24, 16
    images, labels = tc.textures(cols * rows // len(tc.CLASSES), 3)
    order = np.random.default_rng(4).permutation(len(labels))
    images, labels = images[order], labels[order]
    truth = labels.reshape(rows, cols)
    mosaic = images.reshape(rows, cols, tc.SIZE, tc.SIZE).transpose(0, 2, 1, 3).reshape(
        rows * tc.SIZE, cols * tc.SIZE)
    image = os.path.join(tmp, "texture.tif")
    tc.write_mosaic(image, mosaic)
    res = {}
    for prec in ("fp32", "bf16"):
        out = os.path.join(tmp, "texture_%s.h5" % prec)
        run(a, os.path.join(ROOT, "configs", "texture_classifier.yaml"), image,
            os.path.join(ROOT, "models", "texture_classifier.h5"), out, prec)
        cls, prob = read(out, "class", "class_probability")
        res[prec] = (cls, prob, {"accuracy": float((cls == truth).mean())})
    return "texture_classifier.h5, 24 x 16 texture tiles", res


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--atrous", default=os.path.join(ROOT, "build", "atrous"))
    p.add_argument("--models", default="membrane,demo,classifier")
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data",
                                                  "em_membrane_isbi2012_unet", "train"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-delta", type=float, default=0.005)
    p.add_argument("--min-agreement", type=float, default=0.998)
    a = p.parse_args(argv)
    a.atrous = os.path.abspath(a.atrous)  # `atrous demo` finds its config next to the binary
    with open("/proc/cpuinfo") as f:
        if "avx512_bf16" not in f.read():
            print("SKIP: this CPU has no avx512_bf16 (runtime.precision bf16 needs it)")
            return SKIP
    models = a.models.split(",")
    if "membrane" in models and not os.path.isdir(os.path.join(a.data, "image")):
        print("SKIP: the ISBI 2012 membrane data is not at %s" % os.path.normpath(a.data))
        return SKIP
    ok = True
    print("| model, data | metric | fp32 | bf16 | bf16 - fp32 | mask agreement | max abs dP "
          "| mean abs dP |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            label, res = {"membrane": membrane, "demo": demo, "classifier": classifier}[name](
                a, tmp)
            m32, p32, s32 = res["fp32"]
            m16, p16, s16 = res["bf16"]
            agree, dmax, dmean = compare(p32, p16, m32, m16)
            ok = ok and agree >= a.min_agreement
            for metric in s32:
                delta = s16[metric] - s32[metric]
                ok = ok and abs(delta) <= a.max_delta
                print("| %s | %s | %.4f | %.4f | %+.4f | %.3f %% | %.2e | %.2e |"
                      % (label, metric, s32[metric], s16[metric], delta, 100 * agree, dmax,
                         dmean), flush=True)
    print("PASS" if ok else "FAIL: bf16 differs from fp32 beyond the targets")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
