#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: write a Keras HDF5 file (save_weights or model.save layout, Keras 2 or Keras 3 names)
# from the PyTorch seed models: the bridge for PyTorch users to atrous.
"""Export a PyTorch state_dict of tools/seed_models.py modules as a Keras HDF5 file.

  export_keras.py --arch unet --filters 16 --depth 5 --dilation 1,1,1,2,2 \\
      --state-dict unet.pt --out unet.h5 --layout full

Layouts (as Keras' legacy HDF5 code writes them):
  weights  model.save_weights("x.h5"): root attrs layer_names, backend, keras_version; one group
           per layer with attr weight_names and the datasets at <layer>/<weight_name>.
  full     model.save("x.h5"): the same under /model_weights, plus root attr model_config
           (Functional model JSON), keras_version, backend.
--keras3 writes Keras 3 names: weight names without ":0", input layer "input_layer", Keras 3
inbound_nodes ({"args": [{"class_name": "__keras_tensor__", ...}]}), InputLayer batch_shape.
"""

import argparse
import json
import sys

import h5py
import numpy as np


def _keras3_tensor(name, shape=None):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [name, 0, 0]}}


def _keras3_config(layer):
    """Keras 3 spells a few things differently (dtype policy objects, batch_shape)."""
    c = dict(layer["config"])
    if layer["class_name"] == "InputLayer":
        return {"batch_shape": c["batch_input_shape"], "dtype": "float32", "sparse": False,
                "name": c["name"]}
    c["dtype"] = {"module": "keras", "class_name": "DTypePolicy",
                  "config": {"name": "float32"}, "registered_name": None}
    for key, value in list(c.items()):
        if key.endswith("_initializer") and isinstance(value, dict):
            c[key] = {"module": "keras.initializers", "class_name": value["class_name"],
                      "config": {"seed": None}, "registered_name": None}
    return c


def model_config(layers, keras3=False, name=None):
    """The model_config JSON object of a Functional model over `layers`."""
    consumed = {i for layer in layers for i in layer["inputs"]}
    outputs = [layer["name"] for layer in layers if layer["name"] not in consumed]
    inputs = [layer["name"] for layer in layers if layer["class_name"] == "InputLayer"]
    out = []
    for layer in layers:
        if keras3:
            tensors = [_keras3_tensor(i) for i in layer["inputs"]]
            if layer["class_name"] == "Concatenate":
                args = [tensors]  # Concatenate is called with one list of tensors
            else:
                args = tensors
            nodes = [{"args": args, "kwargs": {}}] if tensors else []
            out.append({"module": "keras.layers", "class_name": layer["class_name"],
                        "config": _keras3_config(layer), "registered_name": None,
                        "name": layer["name"], "inbound_nodes": nodes})
        else:
            nodes = [[[i, 0, 0, {}] for i in layer["inputs"]]] if layer["inputs"] else []
            out.append({"class_name": layer["class_name"], "config": layer["config"],
                        "name": layer["name"], "inbound_nodes": nodes})
    config = {"name": name or ("functional" if keras3 else "model"), "trainable": True,
              "layers": out, "input_layers": [[i, 0, 0] for i in inputs],
              "output_layers": [[o, 0, 0] for o in outputs]}
    result = {"class_name": "Functional", "config": config}
    if keras3:
        result.update({"module": "keras.src.models.functional", "registered_name": "Functional"})
    else:
        result.update({"keras_version": "2.11.0", "backend": "tensorflow"})
    return result


def _strings(values, vlen):
    """Keras writes np.asarray(list of bytes) (fixed-length strings); vlen=True writes
    variable-length UTF-8 strings instead (what h5py users writing str lists get)."""
    if not values:
        return []  # Keras' empty weight_names: an empty float64 array
    if vlen:
        return np.array(values, dtype=h5py.string_dtype("utf-8"))
    return np.array([v.encode("utf8") for v in values])


def write_weights(group, layers, keras3=False, vlen=False, split_layer_names=False):
    """Keras' save_weights_to_hdf5_group."""
    names = [layer["name"] for layer in layers]
    if split_layer_names:  # what Keras does past the 64 KiB attribute limit
        half = (len(names) + 1) // 2
        group.attrs["layer_names0"] = _strings(names[:half], vlen)
        group.attrs["layer_names1"] = _strings(names[half:], vlen)
    else:
        group.attrs["layer_names"] = _strings(names, vlen)
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = b"3.3.3" if keras3 else b"2.11.0"
    for layer in sorted(layers, key=lambda l: l["name"]):
        g = group.create_group(layer["name"])
        suffix = "" if keras3 else ":0"
        weight_names = ["%s/%s%s" % (layer["name"], short, suffix)
                        for short, _ in layer["weights"]]
        g.attrs["weight_names"] = _strings(weight_names, vlen)
        for wname, (_, value) in zip(weight_names, layer["weights"]):
            g.create_dataset(wname, data=np.asarray(value, dtype=np.float32))
    if keras3:
        g = group.create_group("top_level_model_weights")
        g.attrs["weight_names"] = []


def write_keras_h5(path, layers, layout="full", keras3=False, vlen=False,
                   split_layer_names=False, config=None, fixed_config=False):
    """Writes `layers` (seed_models keras_layers() format) as a Keras HDF5 file."""
    # libver="latest" stores small groups compactly (Keras uses h5py's default, whose per-group
    # B-trees make a small model's file ~30 KB bigger); readers see the same objects.
    with h5py.File(path, "w", libver="latest") as f:
        if layout == "weights":
            write_weights(f, layers, keras3, vlen, split_layer_names)
            return
        assert layout == "full", layout
        text = json.dumps(config if config is not None else model_config(layers, keras3))
        # Keras stores json.dumps(...).encode(): a variable-length ASCII string; fixed_config
        # writes a fixed-length one (older h5py / other writers).
        f.attrs["model_config"] = np.bytes_(text.encode()) if fixed_config else text.encode()
        f.attrs["keras_version"] = b"3.3.3" if keras3 else b"2.11.0"
        f.attrs["backend"] = b"tensorflow"
        write_weights(f.create_group("model_weights"), layers, keras3, vlen, split_layer_names)


def main(argv):
    import torch

    import seed_models

    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=["unet", "classifier"], required=True)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--depth", type=int, default=5)
    p.add_argument("--dilation", default="1,1,1,2,2", help="per level, comma separated")
    p.add_argument("--separable", action="store_true")
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--classes", type=int, default=None, help="unet: 1, classifier: 10")
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--height", type=int, default=28, help="classifier input height")
    p.add_argument("--width", type=int, default=28, help="classifier input width")
    p.add_argument("--state-dict", required=True, help="torch.save(model.state_dict()) file")
    p.add_argument("--out", required=True)
    p.add_argument("--layout", choices=["full", "weights"], default="full")
    p.add_argument("--keras3", action="store_true", help="Keras 3 names (no ':0')")
    a = p.parse_args(argv)
    if a.arch == "unet":
        model = seed_models.SeedUnet(a.filters, a.depth, [int(d) for d in a.dilation.split(",")],
                                     a.separable, a.in_channels, a.classes or 1, a.dropout)
    else:
        model = seed_models.SeedClassifier(a.height, a.width, a.in_channels, a.classes or 10)
    model.load_state_dict(torch.load(a.state_dict, map_location="cpu"))
    layers = model.keras_layers("input_layer" if a.keras3 else "input_1")
    write_keras_h5(a.out, layers, a.layout, a.keras3)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
