#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: write the Keras HDF5 model fixtures and their PyTorch golden outputs under
# tests/fixtures/models/ (read by tests/stages/infer/import/*_test.cpp). Deterministic.
"""Regenerate with:  tools/make_model_fixtures.py [--out tests/fixtures/models]

Per golden case <case>: <case>_weights.h5 (save_weights layout), <case>_full.h5 (model.save
layout), for some cases <case>_keras3.h5 (Keras 3 names, variable-length strings), <case>.keras
and <case>.weights.h5 (Keras 3's own model.save and save_weights formats), and
<case>_io.h5 with datasets `input` and `output` (float32 NHWC; the classifier's output is
n x 1 x 1 x classes), computed by PyTorch in float64. Weights are He-normal with small random
biases so activations neither vanish nor explode through the relus.
Broken files (from the `tiny` U-Net) exercise the loader's and the engine's error paths.
"""

import argparse
import copy
import json
import os
import re
import struct
import sys
import zipfile

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_keras  # noqa: E402
import seed_models  # noqa: E402

SEED = 20240611

# name: (constructor, kwargs, input NHWC shape, layouts)
CASES = {
    "tiny": (seed_models.SeedUnet, dict(filters=2, depth=2, dilation=[1, 2]), (1, 8, 12, 1),
             ["weights", "full", "keras"]),
    "unet_d5": (seed_models.SeedUnet, dict(filters=2, depth=5, dilation=[1, 1, 1, 2, 2]),
                (1, 48, 32, 1), ["weights", "full", "keras3", "keras", "keras3_weights"]),
    "unet_rgb3": (seed_models.SeedUnet,
                  dict(filters=4, depth=4, dilation=[1, 1, 2, 2], in_channels=3, classes=3),
                  (2, 16, 24, 3), ["full"]),
    "unet_sep": (seed_models.SeedUnet,
                 dict(filters=4, depth=5, dilation=[1, 1, 1, 2, 2], separable=True),
                 (1, 48, 32, 1), ["full"]),
    "classifier": (seed_models.SeedClassifier, dict(classes=10), (4, 28, 28, 1),
                   ["weights", "full", "keras", "keras3_weights"]),
}


def he_init(model, gen):
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in = m.weight[0].numel()
            # A depthwise conv is followed by the pointwise one, not by a relu: gain 1, not 2.
            gain = 1.0 if isinstance(m, torch.nn.Conv2d) and m.groups > 1 else 2.0
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (gain / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=gen) - 0.5) * 0.2)


def calibrate_head(model, x):
    """Rescales the 1x1 head so its pre-activation has mean 0 and std 2 on `x`: the sigmoid or
    softmax output then varies instead of saturating, and keeps the test sensitive."""
    with torch.no_grad():
        features = model.final(unet_features(model, x.permute(0, 3, 1, 2)))
        z = model.head.conv(features)
        scale = 2.0 / max(float(z.std()), 1e-6)
        model.head.conv.weight.mul_(scale)
        model.head.conv.bias.mul_(scale)
        z = model.head.conv(features)
        model.head.conv.bias.sub_(z.mean(dim=(0, 2, 3)))


def unet_features(model, x):
    """SeedUnet.forward without final and head."""
    skips = []
    for level, (a, b) in enumerate(model.encoder, start=1):
        x = b(a(x))
        skips.append(x)
        if level < model.depth:
            x = torch.nn.functional.max_pool2d(x, 2)
    for j, (up, a, b) in enumerate(model.decoder):
        level = model.depth - 1 - j
        x = up(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
        x = b(a(torch.cat([skips[level - 1], x], dim=1)))
    return x


def rename_layers(layers, offset):
    """As if `offset` layers of each class had been built before in the Keras session."""
    def shift(name):
        m = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
        return "%s_%d" % (m.group(1), int(m.group(2) or 0) + offset)
    table = {layer["name"]: shift(layer["name"]) for layer in layers}
    out = copy.deepcopy(layers)
    for layer in out:
        layer["name"] = table[layer["name"]]
        layer["config"]["name"] = layer["name"]
        layer["inputs"] = [table[i] for i in layer["inputs"]]
    return out


def write_io(path, x_nhwc, y_nhwc):
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("input", data=x_nhwc.astype(np.float32))
        f.create_dataset("output", data=y_nhwc.astype(np.float32))


def make_case(out, name, gen):
    ctor, kwargs, shape, layouts = CASES[name]
    model = ctor(**kwargs)
    he_init(model, gen)
    model.eval()
    x = torch.rand(shape, generator=gen) * 4.0 - 1.0  # NHWC, a wide range of inputs
    if isinstance(model, seed_models.SeedUnet):
        calibrate_head(model, x)
    with torch.no_grad():
        y = model.double()(x.double().permute(0, 3, 1, 2))
    y = y.permute(0, 2, 3, 1) if y.dim() == 4 else y[:, None, None, :]
    y = y.float().numpy()
    model.float()
    print("%-10s params %7d  output mean %.4f std %.4f min %.4f max %.4f" % (
        name, sum(p.numel() for p in model.parameters()), y.mean(), y.std(), y.min(), y.max()))
    layers = model.keras_layers()
    base = os.path.join(out, name)
    if "weights" in layouts:
        # The classifier's file also splits layer_names into layer_names0/1 (Keras does so
        # past 64 KiB).
        export_keras.write_keras_h5(base + "_weights.h5", layers, "weights",
                                    split_layer_names=(name == "classifier"))
    if "full" in layouts:
        export_keras.write_keras_h5(base + "_full.h5", layers, "full",
                                    fixed_config=(name == "classifier"))
    if "keras3" in layouts:
        export_keras.write_keras_h5(base + "_keras3.h5", model.keras_layers("input_layer"),
                                    "full", keras3=True, vlen=True)
    if "keras" in layouts:
        # The classifier as Keras' own SeparableConv2D example writes it: a Sequential model.
        sequential = isinstance(model, seed_models.SeedClassifier)
        export_keras.write_keras3_archive(base + ".keras", model.keras_layers("input_layer"),
                                          "sequential" if sequential else "functional",
                                          sequential=sequential)
    if "keras3_weights" in layouts:
        export_keras.write_keras3_weights(base + ".weights.h5", model.keras_layers("input_layer"))
    write_io(base + "_io.h5", x.numpy(), y)
    return model, layers


def make_broken(out, layers):
    """Error-path files, all from the tiny U-Net."""
    def path(n):
        return os.path.join(out, n)

    def by_name(ls, n):
        return next(layer for layer in ls if layer["name"] == n)

    write = export_keras.write_keras_h5
    # Matching by order: the same weights under names shifted by 7 (conv2d_7, ...).
    write(path("tiny_renamed_weights.h5"), rename_layers(layers, 7), "weights")
    # save_weights file lacking conv2d_2.
    write(path("broken_missing_layer_weights.h5"),
          [layer for layer in layers if layer["name"] != "conv2d_2"], "weights")
    # save_weights file with a layer the model does not have.
    extra = copy.deepcopy(layers)
    extra.append(copy.deepcopy(by_name(layers, "conv2d_2")))
    extra[-1]["name"] = "conv2d_99"
    write(path("broken_extra_layer_weights.h5"), extra, "weights")
    # conv2d_1 has its kernel but no bias.
    count = copy.deepcopy(layers)
    by_name(count, "conv2d_1")["weights"].pop()
    write(path("broken_weight_count_full.h5"), count, "full")
    # conv2d_1's kernel is (3,3,3,2) where the model needs (3,3,2,2).
    shape = copy.deepcopy(layers)
    by_name(shape, "conv2d_1")["weights"][0] = ("kernel", np.ones((3, 3, 3, 2), np.float32))
    write(path("broken_wrong_shape_full.h5"), shape, "full")
    # A class atrous does not know.
    unknown = copy.deepcopy(layers)
    by_name(unknown, "max_pooling2d")["class_name"] = "FancyPooling2D"
    write(path("broken_unknown_class_full.h5"), unknown, "full")
    # conv2d reads conv2d_1, which reads conv2d: a cycle.
    cycle = copy.deepcopy(layers)
    by_name(cycle, "conv2d")["inputs"] = ["conv2d_1"]
    config = export_keras.model_config(cycle)
    config["config"]["output_layers"] = [["conv2d_7", 0, 0]]
    write(path("broken_cycle_full.h5"), cycle, "full", config=config)
    # concatenate reads a layer that does not exist.
    dangling = copy.deepcopy(layers)
    by_name(dangling, "concatenate")["inputs"][0] = "conv2d_42"
    write(path("broken_unknown_input_full.h5"), dangling, "full")
    make_broken_keras3(out, rename_layers_keras3(layers))
    # model_config that is not JSON.
    with h5py.File(path("broken_json_full.h5"), "w", libver="latest") as f:
        f.attrs["model_config"] = b'{"class_name": "Functional", "config": {'
        export_keras.write_weights(f.create_group("model_weights"), layers)
    # An HDF5 file that is not a Keras model.
    with h5py.File(path("not_keras.h5"), "w", libver="latest") as f:
        f.create_dataset("data", data=np.arange(10, dtype=np.float32))
    # A Keras file cut short (an interrupted copy).
    with open(path("tiny_full.h5"), "rb") as f:
        data = f.read()
    with open(path("truncated_full.h5"), "wb") as f:
        f.write(data[: len(data) * 6 // 10])
    with open(path("not_hdf5.h5"), "w") as f:
        f.write("this is a text file, not HDF5\n")


def rename_layers_keras3(layers):
    """Keras 3 names the input layer "input_layer" (Keras 2 "input_1")."""
    out = copy.deepcopy(layers)
    for layer in out:
        if layer["name"] == "input_1":
            layer["name"] = layer["config"]["name"] = "input_layer"
        layer["inputs"] = ["input_layer" if i == "input_1" else i for i in layer["inputs"]]
    return out


def _deflate_all(path):
    """Rewrites a zip with every entry deflated (what a user's `zip -r` gives)."""
    with zipfile.ZipFile(path) as z:
        items = [(info, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for info, data in items:
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)


def _declare_size(path, entry, size):
    """Patches the uncompressed size of `entry` in its local header and in the central
    directory (both must agree): a header that declares more than the data holds."""
    data = bytearray(open(path, "rb").read())
    name = entry.encode()
    local = data.find(b"PK\x03\x04")
    while local >= 0:
        n, m = struct.unpack_from("<HH", data, local + 26)
        if data[local + 30:local + 30 + n] == name:
            struct.pack_into("<I", data, local + 22, size)
        local = data.find(b"PK\x03\x04", local + 30 + n + m)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        n = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46:central + 46 + n] == name:
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 46)
    open(path, "wb").write(bytes(data))


def make_broken_keras3(out, layers):
    """Error paths of the Keras 3 formats, all from the tiny U-Net. Broken .keras files are
    deflated (smaller fixtures; the loader reads both methods). Truncated and damaged copies of
    tiny.keras are made by the tests themselves."""
    def path(n):
        return os.path.join(out, n)

    def by_name(ls, n):
        return next(layer for layer in ls if layer["name"] == n)

    # Not broken: the tiny U-Net built after others in one Keras session (layers conv2d_7, ...),
    # whose weights tree still reads layers/conv2d, layers/conv2d_1, ... (class paths, not names).
    export_keras.write_keras3_archive(path("tiny_renamed.keras"), rename_layers(layers, 7))
    _deflate_all(path("tiny_renamed.keras"))
    # conv2d_1's kernel is (3,3,3,2) where the model needs (3,3,2,2).
    shape = copy.deepcopy(layers)
    by_name(shape, "conv2d_1")["weights"][0] = ("kernel", np.ones((3, 3, 3, 2), np.float32))
    export_keras.write_keras3_archive(path("broken_wrong_shape.keras"), shape)
    _deflate_all(path("broken_wrong_shape.keras"))
    # A class atrous does not know (its weights group is named after it: fancy_pooling2d).
    unknown = copy.deepcopy(layers)
    by_name(unknown, "max_pooling2d")["class_name"] = "FancyPooling2D"
    config = export_keras.keras3_model_config(layers)
    by_name_k3 = {e["name"]: e for e in config["config"]["layers"]}
    by_name_k3["max_pooling2d"]["class_name"] = "FancyPooling2D"
    export_keras.write_keras3_archive(path("broken_unknown_class.keras"), unknown, config=config)
    _deflate_all(path("broken_unknown_class.keras"))
    # A .keras file saved without its weights entry.
    export_keras.write_keras3_archive(path("broken_no_weights.keras"), layers,
                                      entries=("metadata.json", "config.json"))
    # config.json declares 3 GiB uncompressed (a zip bomb's header); the data is the real one.
    export_keras.write_keras3_archive(path("broken_bomb.keras"), layers)
    _deflate_all(path("broken_bomb.keras"))
    _declare_size(path("broken_bomb.keras"), "config.json", 3 << 30)
    # save_weights files of a model with one Conv2D less / one more than the tiny U-Net.
    fewer = [layer for layer in layers if layer["name"] != "conv2d_8"]
    export_keras.write_keras3_weights(path("broken_missing_layer.weights.h5"), fewer)
    more = copy.deepcopy(layers)
    more.append(copy.deepcopy(by_name(layers, "conv2d_8")))
    more[-1]["name"] = "conv2d_9"
    more[-1]["inputs"] = ["conv2d_8"]
    export_keras.write_keras3_weights(path("broken_extra_layer.weights.h5"), more)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "models"))
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    tiny_layers = None
    for name in CASES:
        _, layers = make_case(a.out, name, gen)
        if name == "tiny":
            tiny_layers = layers
    make_broken(a.out, tiny_layers)
    total = sum(os.path.getsize(os.path.join(a.out, f)) for f in os.listdir(a.out))
    print("wrote %d files, %.0f KB in all" % (len(os.listdir(a.out)), total / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
