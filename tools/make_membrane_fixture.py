#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: PyTorch golden probabilities of the committed models/membrane.h5 on a small EM-like
# input, written to tests/fixtures/models/membrane_io.h5 (read by membrane_golden_test.cpp).
"""Regenerate with:  tools/make_membrane_fixture.py [--model models/membrane.h5]
                                                     [--out tests/fixtures/models/membrane_io.h5]

The weights are read back from the Keras file itself (not from a training checkpoint), loaded
into tools/seed_models.SeedUnet and run in float64, so the fixture pins atrous' forward pass on
exactly the committed file. The input is a synthetic 64x64 EM-like patch (bright textured cells,
dark blurred membranes between Voronoi cells, 8-bit quantised, then scaled by 1/255 as the
membrane config's input.normalize does): the ISBI images may not be copied into the repository
(../shared/data/README.md), and this patch drives the trained filters through the same ranges.
Datasets: `input` (1, 64, 64, 1) and `output` (1, 64, 64, 1) float32 NHWC; attribute `model`.
"""

import argparse
import json
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed_models  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20250125


def unet_from_config(config):
    """SeedUnet constructor arguments recovered from a seed model_config (as export_keras
    writes it): filters from the first conv, depth from the poolings, dilation per level."""
    layers = config["config"]["layers"]
    convs = [l for l in layers if l["class_name"] in ("Conv2D", "SeparableConv2D")]
    depth = sum(l["class_name"] == "MaxPooling2D" for l in layers) + 1
    separable = convs[0]["class_name"] == "SeparableConv2D"
    dilation = [convs[2 * i]["config"]["dilation_rate"][0] for i in range(depth)]
    dropout = next((l["config"]["rate"] for l in layers if l["class_name"] == "Dropout"), 0.5)
    in_channels = layers[0]["config"]["batch_input_shape"][-1]
    classes = convs[-1]["config"]["filters"]
    return dict(filters=convs[0]["config"]["filters"], depth=depth, dilation=dilation,
                separable=separable, in_channels=in_channels, classes=classes, dropout=dropout)


def weighted_modules(model):
    """The weighted modules in the order keras_layers() lists weighted layers."""
    mods = [conv for level in model.encoder for conv in level]
    mods += [conv for step in model.decoder for conv in step]
    return mods + [model.final, model.head]


def load_keras_h5(path):
    """A SeedUnet with the weights of a Keras full-layout file written by export_keras."""
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        model = seed_models.SeedUnet(**unet_from_config(config))
        weighted = [l for l in model.keras_layers() if l["weights"]]
        mods = weighted_modules(model)
        assert len(weighted) == len(mods)
        for layer, mod in zip(weighted, mods):
            g = f["model_weights"][layer["name"]][layer["name"]]
            values = {short: np.asarray(g[short + ":0"]) for short, _ in layer["weights"]}
            with torch.no_grad():
                if isinstance(mod, seed_models.SameSeparableConv2d):
                    mod.depthwise.weight.copy_(
                        torch.from_numpy(values["depthwise_kernel"]).permute(2, 3, 0, 1))
                    mod.pointwise.weight.copy_(
                        torch.from_numpy(values["pointwise_kernel"]).permute(3, 2, 0, 1))
                    mod.pointwise.bias.copy_(torch.from_numpy(values["bias"]))
                else:
                    mod.conv.weight.copy_(torch.from_numpy(values["kernel"]).permute(3, 2, 0, 1))
                    mod.conv.bias.copy_(torch.from_numpy(values["bias"]))
        # Round trip: exporting the loaded model gives back the file's arrays bit for bit.
        for layer in (l for l in model.keras_layers() if l["weights"]):
            g = f["model_weights"][layer["name"]][layer["name"]]
            for short, value in layer["weights"]:
                assert np.array_equal(value, np.asarray(g[short + ":0"])), (layer["name"], short)
    return model.eval()


def em_like_patch(size, rng):
    """Voronoi cells with textured bright interiors and dark ~5 px membranes (ISBI slice 25:
    interiors 146 +- 43, membranes 95 +- 37 grey levels), 8-bit levels. Also returns the
    membrane truth (True = membrane)."""
    n = 6
    seeds = rng.uniform(-8, size + 8, (n, 2))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    d = np.sqrt((yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2)
    d.sort(axis=-1)
    edge = d[..., 1] - d[..., 0]  # 0 on a cell boundary
    membrane = np.exp(-(edge / 5.0) ** 2)
    texture = rng.normal(0, 1, (size, size))
    k = np.exp(-0.5 * (np.arange(-3, 4) / 1.2) ** 2)
    k /= k.sum()
    for axis in (0, 1):
        texture = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), axis, texture)
    image = 160 + 40 * texture - 90 * membrane + rng.normal(0, 6, (size, size))
    return np.clip(np.round(image), 0, 255) / 255.0, membrane > 0.5


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(ROOT, "models", "membrane.h5"))
    p.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "models",
                                                 "membrane_io.h5"))
    p.add_argument("--size", type=int, default=64)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    model = load_keras_h5(a.model).double()
    # float64 forward on exactly the float32 values the C++ test feeds
    x, membrane = em_like_patch(a.size, np.random.default_rng(SEED))
    x = x[None, None].astype(np.float32).astype(np.float64)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    nhwc = lambda t: np.ascontiguousarray(t.transpose(0, 2, 3, 1)).astype(np.float32)
    with h5py.File(a.out, "w", libver="latest") as f:
        f.create_dataset("input", data=nhwc(x))
        f.create_dataset("output", data=nhwc(y))
        f.attrs["model"] = "models/membrane.h5"
    accuracy = float(((y[0, 0] > 0.5) == ~membrane).mean())
    print("wrote %s: output range [%.4f, %.4f], %.1f %% predicted membrane (%.1f %% drawn), "
          "pixel accuracy vs the drawn membranes %.3f"
          % (a.out, y.min(), y.max(), 100 * (y < 0.5).mean(), 100 * membrane.mean(), accuracy))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
