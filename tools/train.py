#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: train the seed U-Net (tools/seed_models.py) on image/label rasters with Keras'
# conventions and write it as a Keras model.save HDF5 file (tools/export_keras.py) for atrous.
"""Train the seed U-Net on image/label pairs; export models/<name>.h5 (Keras full layout).

Example (the membrane model, see models/README.md):
  D=../shared/data/em_membrane_isbi2012_unet/train
  nice -n 10 tools/train.py --name membrane --filters 16 --depth 5 --dilation 1,1,1,2,2 \\
      --train-images $D/image/{0..24}.png --train-labels $D/label/{0..24}.png \\
      --val-images $D/image/{25..29}.png --val-labels $D/label/{25..29}.png \\
      --crop 128 --batch 4 --iterations 6000 --checkpoint /tmp/membrane.ckpt

Data: any GDAL-readable single-band rasters; images are scaled by --scale (default 1/255, the
`input.normalize.scale` the model's atrous config must use), labels are binarised as
label > --label-threshold (default 127): the model outputs P(label is foreground), i.e. for the
ISBI membrane data (255 = cell interior, 0 = membrane) P(cell interior), so membrane = mask 0.

Training: random crops (--crop, a multiple of 2^(depth-1)) sampled through one random affine map
per crop (rotation by any angle incl. the 90-degree ones, a flip, scale and shear jitter) plus a
smooth elastic displacement, reflect padding at the image border, brightness/contrast jitter;
BCE (+ --dice weight x soft dice) loss; Adam with cosine learning-rate decay over --iterations;
Dropout(--dropout) after the dilated levels, as the Keras seed has it (identity at inference).
Everything is seeded by --seed. A checkpoint (model, optimizer, iteration, RNG states, log) is
written every --checkpoint-minutes and at the end; rerunning the same command resumes from it.
Validation (whole validation images, eval mode) every --val-every iterations prints pixel
accuracy and F1/IoU of both classes at threshold 0.5.
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_keras  # noqa: E402
import seed_models  # noqa: E402


def read_raster(path):
    """First band of a GDAL-readable raster as float32 (H, W)."""
    from osgeo import gdal

    gdal.UseExceptions()
    ds = gdal.Open(path)
    if ds is None:
        raise SystemExit("%s: cannot open" % path)
    return ds.GetRasterBand(1).ReadAsArray().astype(np.float32)


def load_pairs(images, labels, scale, threshold):
    if len(images) != len(labels):
        raise SystemExit("%d images but %d labels" % (len(images), len(labels)))
    xs, ys = [], []
    for image, label in zip(images, labels):
        x, y = read_raster(image) * scale, (read_raster(label) > threshold).astype(np.float32)
        if x.shape != y.shape:
            raise SystemExit("%s is %s but %s is %s" % (image, x.shape, label, y.shape))
        xs.append(torch.from_numpy(x)[None])
        ys.append(torch.from_numpy(y)[None])
    return xs, ys


def build_model(a):
    model = seed_models.SeedUnet(a.filters, a.depth, [int(d) for d in a.dilation.split(",")],
                                 a.separable, 1, 1, a.dropout)
    return model


def he_normal_(model, gen):
    """Keras' defaults: Conv2D he_normal (truncated normal, fan_in), zero biases;
    SeparableConv2D glorot_uniform for both kernels."""
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            with torch.no_grad():
                if m.groups > 1:
                    fan_in = m.weight[0].numel()
                    fan_out = m.out_channels // m.groups * m.weight[0, 0].numel()
                    limit = math.sqrt(6.0 / (fan_in + fan_out))
                    m.weight.copy_((torch.rand(m.weight.shape, generator=gen) * 2 - 1) * limit)
                else:
                    std = math.sqrt(2.0 / m.weight[0].numel()) / 0.87962566103423978
                    w = torch.randn(m.weight.shape, generator=gen)
                    while True:  # truncated at 2 std, as Keras' TruncatedNormal
                        bad = w.abs() > 2
                        if not bad.any():
                            break
                        w[bad] = torch.randn(int(bad.sum()), generator=gen)
                    m.weight.copy_(w * std)
                if m.bias is not None:
                    m.bias.zero_()
    if model.separable:  # SameSeparableConv2d: the pointwise kernels are glorot too
        for m in model.modules():
            if isinstance(m, seed_models.SameSeparableConv2d):
                pw = m.pointwise
                limit = math.sqrt(6.0 / (pw.in_channels + pw.out_channels))
                with torch.no_grad():
                    pw.weight.copy_((torch.rand(pw.weight.shape, generator=gen) * 2 - 1) * limit)


def add_dropout(model, rate):
    """Keras' Dropout after each dilated encoder level (SeedUnet.forward omits it)."""
    for level, (_, second) in enumerate(model.encoder):
        if model.dilation[level] > 1 and rate > 0:
            second.register_forward_hook(
                lambda m, inputs, out: F.dropout(out, rate, m.training))


def sample_batch(xs, ys, a, gen):
    """One augmented batch (N, 1, crop, crop) of images and labels."""
    n, c = a.batch, a.crop
    imgs, labs = [], []
    base = torch.linspace(-1, 1, c) * (c - 1) / 2  # pixel offsets from the crop centre
    gy, gx = torch.meshgrid(base, base, indexing="ij")
    for _ in range(n):
        i = int(torch.randint(len(xs), (1,), generator=gen))
        x, y = xs[i], ys[i]
        h, w = x.shape[-2:]
        u = torch.rand(8, generator=gen)
        angle = float(u[0]) * 2 * math.pi if a.rotate else 0.0
        scale = math.exp((float(u[1]) * 2 - 1) * a.scale_jitter)
        shear = (float(u[2]) * 2 - 1) * a.shear_jitter
        flip = -1.0 if a.flip and float(u[3]) < 0.5 else 1.0
        if a.rotate and float(u[4]) < 0.5:  # half the crops on the exact 90-degree lattice
            angle = int(float(u[5]) * 4) * math.pi / 2
            scale, shear = 1.0, 0.0
        cos, sin = math.cos(angle), math.sin(angle)
        # source offset = R(angle) S(shear) diag(flip, 1) scale * output offset
        m00, m01 = flip * scale, shear * scale
        m10, m11 = 0.0, scale
        r00, r01 = cos * m00 - sin * m10, cos * m01 - sin * m11
        r10, r11 = sin * m00 + cos * m10, sin * m01 + cos * m11
        cx = float(u[6]) * (w - 1)
        cy = float(u[7]) * (h - 1)
        sx = cx + r00 * gx + r01 * gy
        sy = cy + r10 * gx + r11 * gy
        if a.elastic > 0:
            k = 5
            d = torch.randn(1, 2, k, k, generator=gen) * a.elastic
            d = F.interpolate(d, size=(c, c), mode="bicubic", align_corners=True)[0]
            sx, sy = sx + d[0], sy + d[1]
        grid = torch.stack([sx / (w - 1) * 2 - 1, sy / (h - 1) * 2 - 1], dim=-1)[None]
        xi = F.grid_sample(x[None], grid, mode="bilinear", padding_mode="reflection",
                           align_corners=True)[0]
        yi = F.grid_sample(y[None], grid, mode="nearest", padding_mode="reflection",
                           align_corners=True)[0]
        v = torch.rand(2, generator=gen)
        contrast = math.exp((float(v[0]) * 2 - 1) * a.contrast_jitter)
        brightness = (float(v[1]) * 2 - 1) * a.brightness_jitter
        mean = float(xi.mean())
        xi = (xi - mean) * contrast + mean + brightness
        imgs.append(xi)
        labs.append(yi)
    return torch.stack(imgs), torch.stack(labs)


def loss_fn(p, y, dice_weight):
    p = p.clamp(1e-7, 1 - 1e-7)  # Keras' epsilon clip in binary_crossentropy
    loss = F.binary_cross_entropy(p, y)
    if dice_weight > 0:
        # soft dice of both classes, so the minority class (membrane) counts as much
        dice = 0.0
        for pc, yc in ((p, y), (1 - p, 1 - y)):
            inter = (pc * yc).sum()
            dice = dice + 1 - (2 * inter + 1) / (pc.sum() + yc.sum() + 1)
        loss = loss + dice_weight * dice / 2
    return loss


def scores(pred, truth):
    """pred, truth: bool arrays (True = foreground). Accuracy, per-class F1 and IoU."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    out = {"accuracy": float((pred == truth).mean())}
    for name, p, t in (("fg", pred, truth), ("bg", ~pred, ~truth)):
        tp = float((p & t).sum())
        fp = float((p & ~t).sum())
        fn = float((~p & t).sum())
        out[name + "_f1"] = 2 * tp / max(2 * tp + fp + fn, 1.0)
        out[name + "_iou"] = tp / max(tp + fp + fn, 1.0)
    return out


def validate(model, xs, ys):
    model.eval()
    preds, truths, losses = [], [], []
    with torch.no_grad():
        for x, y in zip(xs, ys):
            p = model(x[None])
            losses.append(float(F.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), y[None])))
            preds.append((p[0, 0] > 0.5).numpy().ravel())
            truths.append((y[0] > 0.5).numpy().ravel())
    model.train()
    s = scores(np.concatenate(preds), np.concatenate(truths))
    s["loss"] = float(np.mean(losses))
    return s


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="writes <models-dir>/<name>.h5")
    p.add_argument("--models-dir", default=os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--depth", type=int, default=5)
    p.add_argument("--dilation", default="1,1,1,2,2", help="per level, comma separated")
    p.add_argument("--separable", action="store_true")
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--train-images", nargs="+", required=True)
    p.add_argument("--train-labels", nargs="+", required=True)
    p.add_argument("--val-images", nargs="*", default=[])
    p.add_argument("--val-labels", nargs="*", default=[])
    p.add_argument("--scale", type=float, default=1 / 255, help="input multiplier")
    p.add_argument("--label-threshold", type=float, default=127)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--iterations", type=int, default=6000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=2e-5)
    p.add_argument("--warmup", type=int, default=200, help="linear warm-up iterations")
    p.add_argument("--dice", type=float, default=0.0, help="weight of the soft dice term")
    p.add_argument("--no-rotate", dest="rotate", action="store_false")
    p.add_argument("--no-flip", dest="flip", action="store_false")
    p.add_argument("--scale-jitter", type=float, default=0.1, help="log scale range")
    p.add_argument("--shear-jitter", type=float, default=0.1)
    p.add_argument("--elastic", type=float, default=2.0, help="displacement std in pixels")
    p.add_argument("--brightness-jitter", type=float, default=0.1)
    p.add_argument("--contrast-jitter", type=float, default=0.2, help="log contrast range")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", required=True, help="checkpoint file (resumed if present)")
    p.add_argument("--checkpoint-minutes", type=float, default=3.0)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--time-only", type=int, default=0,
                   help="time this many iterations, print s/iteration and exit")
    a = p.parse_args(argv)

    if a.crop % (1 << (a.depth - 1)):
        raise SystemExit("--crop %d is not a multiple of 2^(depth-1) = %d"
                         % (a.crop, 1 << (a.depth - 1)))
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    xs, ys = load_pairs(a.train_images, a.train_labels, a.scale, a.label_threshold)
    vxs, vys = load_pairs(a.val_images, a.val_labels, a.scale, a.label_threshold)
    fg = float(sum(y.sum() for y in ys) / sum(y.numel() for y in ys))
    print("train: %d images, foreground fraction %.3f; validation: %d images"
          % (len(xs), fg, len(vxs)), flush=True)

    model = build_model(a)
    he_normal_(model, gen)
    add_dropout(model, a.dropout)
    params = sum(t.numel() for t in model.parameters())
    print("model: %d parameters (%.2f MB float32)" % (params, params * 4 / 1e6), flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)

    start, history = 0, []
    if os.path.exists(a.checkpoint):
        ck = torch.load(a.checkpoint, map_location="cpu")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start, history = ck["iteration"], ck["history"]
        gen.set_state(ck["generator"])
        torch.set_rng_state(ck["torch_rng"])
        print("resumed from %s at iteration %d" % (a.checkpoint, start), flush=True)

    def save_checkpoint(iteration):
        tmp = a.checkpoint + ".tmp"
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                    "iteration": iteration, "history": history, "generator": gen.get_state(),
                    "torch_rng": torch.get_rng_state(), "args": vars(a)}, tmp)
        os.replace(tmp, a.checkpoint)

    def lr_at(it):
        if it < a.warmup:
            return a.lr * (it + 1) / a.warmup
        t = (it - a.warmup) / max(a.iterations - a.warmup, 1)
        return a.min_lr + 0.5 * (a.lr - a.min_lr) * (1 + math.cos(math.pi * min(t, 1.0)))

    model.train()
    t0 = last_ck = time.time()
    running = []
    end = min(a.iterations, start + a.time_only) if a.time_only else a.iterations
    for it in range(start, end):
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        x, y = sample_batch(xs, ys, a, gen)
        loss = loss_fn(model(x), y, a.dice)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running.append(float(loss))
        done = it + 1
        if done % a.log_every == 0 or a.time_only:
            el = time.time() - t0
            print("it %d loss %.4f lr %.2e  %.2f s/it" % (done, np.mean(running), lr_at(it),
                                                           el / (done - start)), flush=True)
            running = []
        if vxs and (done % a.val_every == 0 or done == a.iterations):
            s = validate(model, vxs, vys)
            s["iteration"] = done
            history.append(s)
            print("val it %d: loss %.4f accuracy %.4f fg F1 %.4f bg F1 %.4f fg IoU %.4f "
                  "bg IoU %.4f" % (done, s["loss"], s["accuracy"], s["fg_f1"], s["bg_f1"],
                                   s["fg_iou"], s["bg_iou"]), flush=True)
        if time.time() - last_ck > a.checkpoint_minutes * 60:
            save_checkpoint(done)
            last_ck = time.time()
    if a.time_only:
        return 0
    save_checkpoint(a.iterations)

    os.makedirs(a.models_dir, exist_ok=True)
    out = os.path.join(a.models_dir, a.name + ".h5")
    model.eval()
    export_keras.write_keras_h5(out, model.keras_layers(), "full")
    print("wrote %s (%d bytes) after %d iterations, %.0f s this run"
          % (out, os.path.getsize(out), a.iterations, time.time() - t0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
