#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: write the small seed inputs of the fuzz targets (tests/fuzz/corpus/): tiny Keras HDF5
# files (model.save and save_weights layouts, Keras 2 and 3; Keras 3's .keras zip and .weights.h5)
# and model_config JSON texts.
"""Writes tests/fuzz/corpus/{keras_h5,model_config}/ seeds (each a few KB) and the hand-made
regression input tests/fuzz/regressions/keras_h5/huge_declared_dataset.h5.

  tools/make_fuzz_seeds.py [--out tests/fuzz/corpus]

The YAML config seeds are copies of configs/*.yaml trimmed by hand (tests/fuzz/corpus/config).
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_keras  # noqa: E402


def conv(name, inputs, filters, kernel, cin, activation="relu", dilation=1):
    rng = np.random.default_rng(len(name))
    config = {"name": name, "trainable": True, "dtype": "float32", "filters": filters,
              "kernel_size": [kernel, kernel], "strides": [1, 1], "padding": "same",
              "data_format": "channels_last", "dilation_rate": [dilation, dilation],
              "groups": 1, "activation": activation, "use_bias": True}
    return {"name": name, "class_name": "Conv2D", "config": config, "inputs": inputs,
            "weights": [("kernel", rng.standard_normal((kernel, kernel, cin, filters))),
                        ("bias", rng.standard_normal(filters))]}


def input_layer(name, channels):
    return {"name": name, "class_name": "InputLayer", "inputs": [], "weights": [],
            "config": {"batch_input_shape": [None, None, None, channels], "dtype": "float32",
                       "sparse": False, "ragged": False, "name": name}}


def tiny_layers(input_name="input_1"):
    """input -> conv2d (1x1, 2 filters) -> conv2d_1 (1x1, 1 filter, sigmoid)."""
    return [input_layer(input_name, 1),
            conv("conv2d", [input_name], 2, 1, 1),
            conv("conv2d_1", ["conv2d"], 1, 1, 2, "sigmoid")]


def branchy_layers():
    """input -> conv2d, max_pooling2d, up_sampling2d, concatenate, conv2d_1."""
    pool = {"name": "max_pooling2d", "class_name": "MaxPooling2D", "inputs": ["conv2d"],
            "weights": [], "config": {"name": "max_pooling2d", "pool_size": [2, 2],
                                      "padding": "valid", "strides": [2, 2]}}
    up = {"name": "up_sampling2d", "class_name": "UpSampling2D", "inputs": ["max_pooling2d"],
          "weights": [], "config": {"name": "up_sampling2d", "size": [2, 2],
                                    "interpolation": "nearest"}}
    cat = {"name": "concatenate", "class_name": "Concatenate",
           "inputs": ["conv2d", "up_sampling2d"], "weights": [],
           "config": {"name": "concatenate", "axis": 3}}
    return [input_layer("input_1", 1), conv("conv2d", ["input_1"], 1, 1, 1), pool, up, cat,
            conv("conv2d_1", ["concatenate"], 1, 1, 2, "sigmoid")]


def builtin_unet_layers():
    """The weights of the built-in U-Net with filters 1, depth 1 (keras_h5_fuzz.cpp's
    architecture for files without model_config): four convolutions."""
    return [input_layer("input_1", 1),
            conv("conv2d", ["input_1"], 1, 3, 1),
            conv("conv2d_1", ["conv2d"], 1, 3, 1),
            conv("conv2d_2", ["conv2d_1"], 2, 3, 1),
            conv("conv2d_3", ["conv2d_2"], 1, 1, 2, "sigmoid")]


def huge_declared_dataset(path):
    """A tiny model.save file whose conv2d_1/kernel declares 10^12 values with no data written
    (HDF5 then reads fill values): the loader must refuse it, not allocate 4 TB."""
    import h5py
    export_keras.write_keras_h5(path, tiny_layers(), "full")
    with h5py.File(path, "r+") as f:
        g = f["model_weights/conv2d_1"]
        name = "conv2d_1/kernel:0"
        del g[name]
        g.create_dataset(name, shape=(1000000, 1000000, 1, 1), dtype="f4")


def sequential_config(layers):
    out = []
    for layer in layers:
        if layer["class_name"] == "InputLayer":
            continue
        c = dict(layer["config"])
        if not out:
            c["batch_input_shape"] = [None, None, None, 1]
        out.append({"class_name": layer["class_name"], "config": c})
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": out}}


def write_json(path, value):
    with open(path, "w") as f:
        f.write(json.dumps(value, separators=(",", ":")))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--out", default=os.path.join(here, "tests", "fuzz", "corpus"))
    p.add_argument("--regressions", default=os.path.join(here, "tests", "fuzz", "regressions"),
                   help="where the hand-made regression inputs go")
    a = p.parse_args(argv)
    h5_dir = os.path.join(a.out, "keras_h5")
    json_dir = os.path.join(a.out, "model_config")
    os.makedirs(h5_dir, exist_ok=True)
    os.makedirs(json_dir, exist_ok=True)

    tiny = tiny_layers()
    export_keras.write_keras_h5(os.path.join(h5_dir, "tiny_full.h5"), tiny, "full")
    export_keras.write_keras_h5(os.path.join(h5_dir, "unet_weights_vlen.h5"),
                                builtin_unet_layers(), "weights", vlen=True)
    export_keras.write_keras_h5(os.path.join(h5_dir, "tiny_keras3_split.h5"),
                                tiny_layers("input_layer"), "full", keras3=True,
                                split_layer_names=True, fixed_config=True)

    # Keras 3's own formats: a .keras zip and a save_weights .weights.h5 (the built-in U-Net's).
    export_keras.write_keras3_archive(os.path.join(h5_dir, "tiny.keras"),
                                      tiny_layers("input_layer"))
    export_keras.write_keras3_weights(os.path.join(h5_dir, "unet.weights.h5"),
                                      builtin_unet_layers())

    write_json(os.path.join(json_dir, "functional_keras2.json"), export_keras.model_config(tiny))
    write_json(os.path.join(json_dir, "functional_keras3.json"),
               export_keras.model_config(branchy_layers(), keras3=True))
    write_json(os.path.join(json_dir, "functional_branches.json"),
               export_keras.model_config(branchy_layers()))
    write_json(os.path.join(json_dir, "sequential.json"), sequential_config(tiny))
    cycle = export_keras.model_config(tiny)
    cycle["config"]["layers"][1]["inbound_nodes"] = [[["conv2d_1", 0, 0, {}]]]
    write_json(os.path.join(json_dir, "cycle.json"), cycle)
    missing = export_keras.model_config(tiny)
    missing["config"]["layers"][2]["inbound_nodes"] = [[["conv2d_9", 0, 0, {}]]]
    write_json(os.path.join(json_dir, "missing_inbound.json"), missing)
    huge_declared_dataset(os.path.join(a.regressions, "keras_h5", "huge_declared_dataset.h5"))
    for d in (h5_dir, json_dir, os.path.join(a.regressions, "keras_h5")):
        for name in sorted(os.listdir(d)):
            print("%6d %s" % (os.path.getsize(os.path.join(d, name)), os.path.join(d, name)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
