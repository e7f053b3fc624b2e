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

Keras 3's own formats (--layout keras, --layout keras3_weights; names always Keras 3's):
  keras           model.save("x.keras"): a zip archive of metadata.json, config.json and
                  model.weights.h5, in that order, stored (not deflated).
  keras3_weights  model.save_weights("x.weights.h5"): model.weights.h5 alone.
Source followed (read, not copied): keras-team/keras at commit 3422977a5e38 (Keras 3.16.0):
  keras/src/saving/saving_lib.py   _save_model_to_fileobj (zip entries and their order),
      _serialize_model_as_json (metadata.json), _save_state / _walk_saveable /
      _save_container_state (the weights tree: "layers" first, each entry of model.layers named
      naming.to_snake_case(class name) made unique by _get_unique_name: conv2d, conv2d_1, ...;
      NOT the layer's name), H5IOStore.make / _create_h5_group / __setitem__ (a group
      <path>/vars with attribute name = the object's name, datasets "0", "1", ...; the model's
      own, empty, /vars at the root);
  keras/src/layers/layer.py        save_own_variables (trainable then non-trainable variables,
      in creation order); base_conv.py save_own_variables (kernel, bias); dense.py (kernel,
      bias); base_separable_conv.py build (depthwise_kernel, pointwise_kernel, bias);
      batch_normalization.py build (gamma, beta, moving_mean, moving_variance);
  keras/src/models/functional.py   get_config and serialize_node (layers in model.layers order,
      inbound_nodes [{"args": [...], "kwargs": {}}]), keras/src/ops/function.py map_graph
      (model.layers order: depth from the output, deepest first, ties by traversal order);
  keras/src/saving/serialization_lib.py  serialize_keras_object (module, class_name, config,
      registered_name, build_config; KerasTensor -> __keras_tensor__ with shape, dtype,
      keras_history); keras/src/utils/naming.py to_snake_case.
Older Keras 3 releases differ only in what atrous does not read: no `name` attribute on the
vars groups, and no vars group for a layer without variables.
"""

import argparse
import io
import json
import re
import sys
import zipfile

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


# ---- Keras 3 formats -----------------------------------------------------------------------

KERAS3_VERSION = "3.16.0"
# Every config key Keras 3's get_config writes, per class (besides name, trainable, dtype).
_KERAS3_KEYS = {
    "Conv2D": ["filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
               "groups", "activation", "use_bias", "kernel_initializer", "bias_initializer",
               "kernel_regularizer", "bias_regularizer", "activity_regularizer",
               "kernel_constraint", "bias_constraint"],
    "SeparableConv2D": ["depth_multiplier", "filters", "kernel_size", "strides", "padding",
                        "data_format", "dilation_rate", "activation", "use_bias",
                        "depthwise_initializer", "pointwise_initializer", "bias_initializer",
                        "depthwise_regularizer", "pointwise_regularizer", "bias_regularizer",
                        "activity_regularizer", "depthwise_constraint", "pointwise_constraint",
                        "bias_constraint"],
    "Dense": ["units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
              "kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint",
              "quantization_config"],
    "MaxPooling2D": ["pool_size", "padding", "strides", "data_format"],
    "UpSampling2D": ["size", "data_format", "interpolation"],
    "Concatenate": ["axis"],
    "Dropout": ["rate", "seed", "noise_shape"],
    "Flatten": ["data_format"],
}
_SEEDED_INITIALIZERS = {"HeNormal", "HeUniform", "GlorotNormal", "GlorotUniform",
                        "LecunNormal", "LecunUniform", "RandomNormal", "RandomUniform",
                        "TruncatedNormal", "Orthogonal", "VarianceScaling"}


def keras3_snake_case(name):
    """keras/src/utils/naming.py to_snake_case."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _keras3_object(module, class_name, config):
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": None}


def _keras3_layer_config(layer):
    """The layer's get_config() under Keras 3 (keys as listed in _KERAS3_KEYS)."""
    c = layer["config"]
    if layer["class_name"] == "InputLayer":
        return {"batch_shape": c["batch_input_shape"], "dtype": "float32", "sparse": False,
                "ragged": False, "name": c["name"], "optional": False}
    out = {"name": c["name"], "trainable": True,
           "dtype": _keras3_object("keras", "DTypePolicy", {"name": "float32"})}
    for key in _KERAS3_KEYS[layer["class_name"]]:
        value = c.get(key)
        if key.endswith("_initializer") and value is not None:
            cls = value["class_name"]
            value = _keras3_object("keras.initializers", cls,
                                   {"seed": None} if cls in _SEEDED_INITIALIZERS else {})
        out[key] = value
    return out


def _keras3_shapes(layers):
    """Each layer's output shape (None for an unknown size), as KerasTensor.shape."""
    shapes = {}
    for layer in layers:
        c, cls = layer["config"], layer["class_name"]
        ins = [shapes[i] for i in layer["inputs"]]
        if cls == "InputLayer":
            shape = list(c["batch_input_shape"])
        elif cls in ("Conv2D", "SeparableConv2D"):  # padding same, strides 1
            shape = ins[0][:3] + [c["filters"]]
        elif cls == "MaxPooling2D":
            shape = [ins[0][0]] + [None if d is None else d // 2 for d in ins[0][1:3]] + \
                [ins[0][3]]
        elif cls == "UpSampling2D":
            shape = [ins[0][0]] + [None if d is None else d * 2 for d in ins[0][1:3]] + \
                [ins[0][3]]
        elif cls == "Concatenate":
            shape = ins[0][:3] + [sum(s[3] for s in ins)]
        elif cls == "Flatten":
            dims = ins[0][1:]
            shape = [ins[0][0], None if None in dims else int(np.prod(dims))]
        elif cls == "Dense":
            shape = ins[0][:-1] + [c["units"]]
        else:  # Dropout and other shape-preserving layers
            shape = list(ins[0])
        shapes[layer["name"]] = shape
    return shapes


def keras3_layer_order(layers):
    """model.layers order (keras/src/ops/function.py map_graph): depth = longest distance to an
    output, deepest first; ties by the order a depth-first walk from the outputs meets them."""
    by_name = {layer["name"]: layer for layer in layers}
    consumed = {i for layer in layers for i in layer["inputs"]}
    outputs = [layer["name"] for layer in layers if layer["name"] not in consumed]
    index, finished = {}, []

    def walk(name):  # _build_map_helper
        if name in finished:
            return
        index.setdefault(name, len(index))
        for i in by_name[name]["inputs"]:
            walk(i)
        finished.append(name)

    for o in outputs:
        walk(o)
    depth = {}
    for name in reversed(finished):
        d = depth.setdefault(name, 0)
        for i in by_name[name]["inputs"]:
            depth[i] = max(depth.get(i, 0), d + 1)
    order = sorted(finished, key=lambda n: (-depth[n], index[n]))
    return [by_name[n] for n in order]


def keras3_model_config(layers, name="functional", sequential=False):
    """serialize_keras_object(model) of a Functional (or Sequential) model over `layers`."""
    layers = keras3_layer_order(layers)
    shapes = _keras3_shapes(layers)
    consumed = {i for layer in layers for i in layer["inputs"]}
    entries = []
    for layer in layers:
        entry = _keras3_object("keras.layers", layer["class_name"], _keras3_layer_config(layer))
        ins = [shapes[i] for i in layer["inputs"]]
        if ins:
            entry["build_config"] = {"input_shape": ins if len(ins) > 1 else ins[0]}
        if not sequential:
            tensors = [{"class_name": "__keras_tensor__",
                        "config": {"shape": shapes[i], "dtype": "float32",
                                   "keras_history": [i, 0, 0]}} for i in layer["inputs"]]
            # Concatenate is called with one list of tensors; other layers with one tensor.
            args = [tensors] if layer["class_name"] == "Concatenate" else tensors
            entry["name"] = layer["name"]
            entry["inbound_nodes"] = [{"args": args, "kwargs": {}}] if tensors else []
        entries.append(entry)
    first = layers[0]["name"]
    if sequential:
        assert all(len(layer["inputs"]) <= 1 for layer in layers)
        dtype = _keras3_object("keras", "DTypePolicy", {"name": "float32"})
        config = {"name": name, "trainable": True, "dtype": dtype, "layers": entries,
                  "build_input_shape": shapes[first]}
        return {"module": "keras", "class_name": "Sequential", "config": config,
                "registered_name": None, "build_config": {"input_shape": shapes[first]}}
    last = [layer["name"] for layer in layers if layer["name"] not in consumed]
    assert len(last) == 1, last
    config = {"name": name, "trainable": True, "layers": entries,
              "input_layers": [first, 0, 0], "output_layers": [last[0], 0, 0]}
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": config, "registered_name": "Functional",
            "build_config": {"input_shape": None}}


def write_keras3_weights(target, layers, model_name="functional", sequential=False):
    """H5IOStore + _save_state: `target` is a path or a BytesIO."""
    layers = keras3_layer_order(layers)
    if sequential:  # Sequential.layers leaves out the InputLayer
        layers = [layer for layer in layers if layer["class_name"] != "InputLayer"]
    used = {}
    with h5py.File(target, "w") as f:
        f.create_group("vars").attrs["name"] = model_name
        for layer in layers:
            key = keras3_snake_case(layer["class_name"])
            if key in used:
                used[key] += 1
                key = "%s_%d" % (key, used[key])
            else:
                used[key] = 0
            g = f.create_group("layers/" + key).create_group("vars")
            g.attrs["name"] = layer["name"]
            for i, (_, value) in enumerate(layer["weights"]):
                g[str(i)] = np.asarray(value, dtype=np.float32)


def _zip_entry(name):
    # A fixed date keeps fixtures reproducible (Keras stamps the time of saving); 0o600 is what
    # zipfile gives entries written through ZipFile.open(name, "w") and writestr(name, ...).
    info = zipfile.ZipInfo(name, date_time=(2024, 6, 11, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o600 << 16
    return info


def write_keras3_archive(path, layers, model_name="functional", sequential=False, config=None,
                         entries=("metadata.json", "config.json", "model.weights.h5")):
    """model.save("x.keras"): metadata.json, config.json, model.weights.h5, stored.
    `config` replaces the model config and `entries` selects the entries (broken fixtures)."""
    if config is None:
        config = keras3_model_config(layers, model_name, sequential)
    weights = io.BytesIO()
    write_keras3_weights(weights, layers, model_name, sequential)
    metadata = {"keras_version": KERAS3_VERSION, "date_saved": "2024-06-11@00:00:00"}
    data = {"metadata.json": json.dumps(metadata).encode(),
            "config.json": json.dumps(config).encode(),
            "model.weights.h5": weights.getvalue()}
    with zipfile.ZipFile(path, "w") as zf:
        for name in entries:
            zf.writestr(_zip_entry(name), data[name])


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
    p.add_argument("--layout", choices=["full", "weights", "keras", "keras3_weights"],
                   default="full", help="keras: Keras 3 model.save .keras zip; keras3_weights: "
                   "Keras 3 save_weights .weights.h5")
    p.add_argument("--keras3", action="store_true", help="Keras 3 names (no ':0')")
    a = p.parse_args(argv)
    if a.arch == "unet":
        model = seed_models.SeedUnet(a.filters, a.depth, [int(d) for d in a.dilation.split(",")],
                                     a.separable, a.in_channels, a.classes or 1, a.dropout)
    else:
        model = seed_models.SeedClassifier(a.height, a.width, a.in_channels, a.classes or 10)
    model.load_state_dict(torch.load(a.state_dict, map_location="cpu"))
    keras3 = a.keras3 or a.layout in ("keras", "keras3_weights")
    layers = model.keras_layers("input_layer" if keras3 else "input_1")
    if a.layout == "keras":
        write_keras3_archive(a.out, layers)
    elif a.layout == "keras3_weights":
        write_keras3_weights(a.out, layers)
    else:
        write_keras_h5(a.out, layers, a.layout, a.keras3)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
