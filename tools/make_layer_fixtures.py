#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: writes tests/fixtures/layers/<case>.h5, golden outputs of single Keras layers (and a
# Conv2D+BatchNormalization pair) computed with PyTorch, for tests/stages/infer/layers.
#
# Needs Debian's python3-torch (1.13), python3-h5py and python3-numpy; run from anywhere:
#     tools/make_layer_fixtures.py
# File layout (read by tests/support/h5_fixture.hpp):
#   attr  layers   JSON list [{"name", "class_name", "config", "weights": [names in order]}],
#                  applied in sequence (the first layer takes all inputs)
#   attr  case     the case name
#   input          NHWC float32 (input_0, input_1, ... for Concatenate/Add)
#   output         NHWC float32, computed by PyTorch in float64 from the same float32 values
#   weights/<layer>/<name>  float32 in Keras layout (Conv2D kernel HWIO, ...)
# Keras semantics reproduced here: TensorFlow 'same' padding (pad_total = max((out-1)*s + k_eff
# - in, 0), floor half before, so even kernels pad 0 before / 1 after); conv2d_transpose as the
# input-gradient of conv2d (full PyTorch transpose, then crop pad_before at the start).

import json
import math
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                       "layers")
rng = np.random.default_rng(20240611)


def rand(*shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)


def nchw(x):  # NHWC numpy float32 -> NCHW torch float64
    return torch.from_numpy(x).double().permute(0, 3, 1, 2)


def nhwc(t):  # NCHW torch -> NHWC numpy float32
    return t.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)


def same_pads(size, k, s, d):
    k_eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + k_eff - size, 0)
    return total // 2, total - total // 2


def pad_same(x, kh, kw, sh, sw, dh, dw, value=0.0):
    top, bottom = same_pads(x.shape[2], kh, sh, dh)
    left, right = same_pads(x.shape[3], kw, sw, dw)
    return F.pad(x, (left, right, top, bottom), value=value)


def activate(t, name):  # t NCHW
    if name in ("linear", None):
        return t
    if name == "relu":
        return torch.relu(t)
    if name == "sigmoid":
        return torch.sigmoid(t)
    if name == "tanh":
        return torch.tanh(t)
    if name == "softmax":
        return torch.softmax(t, dim=1)
    raise ValueError(name)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d(x, cfg, w):
    kh, kw = pair(cfg["kernel_size"])
    sh, sw = pair(cfg.get("strides", 1))
    dh, dw = pair(cfg.get("dilation_rate", 1))
    if cfg["padding"] == "same":
        x = pad_same(x, kh, kw, sh, sw, dh, dw)
    kernel = torch.from_numpy(w["kernel"]).double().permute(3, 2, 0, 1)  # HWIO -> OIHW
    bias = torch.from_numpy(w["bias"]).double() if "bias" in w else None
    y = F.conv2d(x, kernel, bias, stride=(sh, sw), dilation=(dh, dw))
    return activate(y, cfg.get("activation"))


def depthwise(x, cfg, kernel_hwcm, bias):
    kh, kw = pair(cfg["kernel_size"])
    sh, sw = pair(cfg.get("strides", 1))
    dh, dw = pair(cfg.get("dilation_rate", 1))
    cin, dm = kernel_hwcm.shape[2], kernel_hwcm.shape[3]
    if cfg["padding"] == "same":
        x = pad_same(x, kh, kw, sh, sw, dh, dw)
    # (kh,kw,cin,dm) -> (cin*dm, 1, kh, kw), output channel ci*dm + m as in Keras.
    k = torch.from_numpy(kernel_hwcm).double().permute(2, 3, 0, 1).reshape(cin * dm, 1, kh, kw)
    b = torch.from_numpy(bias).double() if bias is not None else None
    return F.conv2d(x, k, b, stride=(sh, sw), dilation=(dh, dw), groups=cin)


def depthwise_conv2d(x, cfg, w):
    y = depthwise(x, cfg, w["depthwise_kernel"], w.get("bias"))
    return activate(y, cfg.get("activation"))


def separable_conv2d(x, cfg, w):
    y = depthwise(x, cfg, w["depthwise_kernel"], None)
    pw = torch.from_numpy(w["pointwise_kernel"]).double().permute(3, 2, 0, 1)
    b = torch.from_numpy(w["bias"]).double() if "bias" in w else None
    return activate(F.conv2d(y, pw, b), cfg.get("activation"))


def conv2d_transpose(x, cfg, w):
    kh, kw = pair(cfg["kernel_size"])
    sh, sw = pair(cfg.get("strides", 1))
    kernel = torch.from_numpy(w["kernel"]).double().permute(3, 2, 0, 1)  # (kh,kw,out,in)->(in,out,kh,kw)
    full = F.conv_transpose2d(x, kernel, None, stride=(sh, sw))
    out = []
    for axis, (size, k, s) in enumerate([(x.shape[2], kh, sh), (x.shape[3], kw, sw)]):
        length = size * s if cfg["padding"] == "same" else size * s + max(k - s, 0)
        before = max((size - 1) * s + k - length, 0) // 2 if cfg["padding"] == "same" else 0
        out.append((length, before))
    (oh, top), (ow, left) = out
    y = torch.zeros(full.shape[0], full.shape[1], oh, ow, dtype=torch.float64)
    crop = full[:, :, top:top + oh, left:left + ow]
    y[:, :, :crop.shape[2], :crop.shape[3]] = crop
    if "bias" in w:
        y = y + torch.from_numpy(w["bias"]).double().view(1, -1, 1, 1)
    return activate(y, cfg.get("activation"))


def max_pool2d(x, cfg, w):
    ph, pw = pair(cfg.get("pool_size", 2))
    sh, sw = pair(cfg.get("strides") or (ph, pw))
    if cfg.get("padding", "valid") == "same":
        x = pad_same(x, ph, pw, sh, sw, 1, 1, value=-math.inf)
    return F.max_pool2d(x, (ph, pw), (sh, sw))


def upsampling2d(x, cfg, w):
    fy, fx = pair(cfg.get("size", 2))
    return x.repeat_interleave(fy, dim=2).repeat_interleave(fx, dim=3)


def batch_normalization(x, cfg, w):
    c = x.shape[1]
    gamma = torch.from_numpy(w["gamma"]).double() if "gamma" in w else torch.ones(c, dtype=torch.float64)
    beta = torch.from_numpy(w["beta"]).double() if "beta" in w else torch.zeros(c, dtype=torch.float64)
    mean = torch.from_numpy(w["moving_mean"]).double()
    var = torch.from_numpy(w["moving_variance"]).double()
    return F.batch_norm(x, mean, var, gamma, beta, training=False, eps=cfg.get("epsilon", 1e-3))


def relu_layer(x, cfg, w):
    mx = cfg.get("max_value")
    slope = cfg.get("negative_slope", 0.0)
    th = cfg.get("threshold", 0.0)
    y = torch.where(x >= th, x, slope * (x - th))
    if mx is not None:
        y = torch.where(x >= th, torch.clamp(y, max=mx), y)
    return y


def activation_layer(x, cfg, w):
    return activate(x, cfg["activation"])


def flatten(x, cfg, w):  # Keras channels_last order: flatten NHWC
    n = x.shape[0]
    return x.permute(0, 2, 3, 1).reshape(n, -1, 1, 1)


def dense(x, cfg, w):  # x NCHW with H=W=1 (after Flatten)
    v = x.reshape(x.shape[0], -1)
    y = v @ torch.from_numpy(w["kernel"]).double()
    if "bias" in w:
        y = y + torch.from_numpy(w["bias"]).double()
    return activate(y.reshape(y.shape[0], -1, 1, 1), cfg.get("activation"))


OPS = {
    "Conv2D": conv2d,
    "DepthwiseConv2D": depthwise_conv2d,
    "SeparableConv2D": separable_conv2d,
    "Conv2DTranspose": conv2d_transpose,
    "MaxPooling2D": max_pool2d,
    "UpSampling2D": upsampling2d,
    "BatchNormalization": batch_normalization,
    "ReLU": relu_layer,
    "Activation": activation_layer,
    "Flatten": flatten,
    "Dense": dense,
}


def write_case(case, layers, inputs):
    """layers: list of (name, class_name, config, [(weight_name, array), ...])."""
    xs = [nchw(i) for i in inputs]
    y = None
    for index, (name, cls, cfg, weights) in enumerate(layers):
        w = dict(weights)
        if index == 0 and cls == "Concatenate":
            y = torch.cat(xs, dim=1)
        elif index == 0 and cls == "Add":
            y = sum(xs)
        else:
            y = OPS[cls](xs[0] if index == 0 else y, cfg, w)
    path = os.path.join(OUT_DIR, case + ".h5")
    with h5py.File(path, "w") as f:
        meta = [{"name": n, "class_name": c, "config": cfg, "weights": [k for k, _ in ws]}
                for n, c, cfg, ws in layers]
        f.attrs["layers"] = np.bytes_(json.dumps(meta))
        f.attrs["case"] = np.bytes_(case)
        if len(inputs) == 1:
            f["input"] = inputs[0]
        else:
            for i, x in enumerate(inputs):
                f["input_%d" % i] = x
        f["output"] = nhwc(y)
        group = f.create_group("weights")
        for n, _, _, ws in layers:
            g = group.create_group(n)
            for k, v in ws:
                g[k] = v.astype(np.float32)
    print("%-28s in %s out %s" % (case, [list(i.shape) for i in inputs], list(nhwc(y).shape)))


def conv_case(case, k, d=1, padding="same", act="relu", filters=4, cin=3, strides=1, bias=True,
              size=(9, 7)):
    cfg = {"filters": filters, "kernel_size": [k, k], "strides": [strides, strides],
           "padding": padding, "dilation_rate": [d, d], "activation": act, "use_bias": bias,
           "data_format": "channels_last"}
    weights = [("kernel", rand(k, k, cin, filters))]
    if bias:
        weights.append(("bias", rand(filters)))
    write_case(case, [("conv", "Conv2D", cfg, weights)], [rand(2, size[0], size[1], cin)])


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.manual_seed(0)
    conv_case("conv2d_3x3_d1_same", 3, 1)
    conv_case("conv2d_3x3_d2_same", 3, 2)
    conv_case("conv2d_3x3_d4_same", 3, 4)
    conv_case("conv2d_3x3_valid", 3, 1, "valid", "linear")
    conv_case("conv2d_2x2_same", 2, 1, act="linear")
    conv_case("conv2d_5x5_d2_same", 5, 2)
    conv_case("conv2d_1x1_sigmoid", 1, 1, act="sigmoid", filters=1)
    conv_case("conv2d_3x3_softmax", 3, 1, act="softmax", filters=3)
    conv_case("conv2d_3x3_s2_same_nobias", 3, 1, strides=2, act="tanh", bias=False)

    for case, d, dm in [("depthwise_conv2d_d1", 1, 2), ("depthwise_conv2d_d2", 2, 1)]:
        cfg = {"kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
               "dilation_rate": [d, d], "depth_multiplier": dm, "activation": "relu",
               "use_bias": True}
        write_case(case, [("dw", "DepthwiseConv2D", cfg,
                           [("depthwise_kernel", rand(3, 3, 3, dm)), ("bias", rand(3 * dm))])],
                   [rand(2, 9, 7, 3)])

    for case, d in [("separable_conv2d_d1", 1), ("separable_conv2d_d2", 2)]:
        cfg = {"filters": 5, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
               "dilation_rate": [d, d], "depth_multiplier": 1, "activation": "relu",
               "use_bias": True}
        write_case(case, [("sep", "SeparableConv2D", cfg,
                           [("depthwise_kernel", rand(3, 3, 3, 1)),
                            ("pointwise_kernel", rand(1, 1, 3, 5)), ("bias", rand(5))])],
                   [rand(2, 9, 7, 3)])

    for case, k, padding in [("conv2d_transpose_2x2_s2_same", 2, "same"),
                             ("conv2d_transpose_2x2_s2_valid", 2, "valid"),
                             ("conv2d_transpose_3x3_s2_same", 3, "same"),
                             ("conv2d_transpose_3x3_s2_valid", 3, "valid"),
                             ("conv2d_transpose_4x4_s2_same", 4, "same"),
                             ("conv2d_transpose_1x1_s2_valid", 1, "valid")]:
        cfg = {"filters": 4, "kernel_size": [k, k], "strides": [2, 2], "padding": padding,
               "activation": "linear", "use_bias": True, "output_padding": None}
        write_case(case, [("up", "Conv2DTranspose", cfg,
                           [("kernel", rand(k, k, 4, 3)), ("bias", rand(4))])],
                   [rand(2, 5, 4, 3)])

    write_case("max_pool2d_2_valid", [("pool", "MaxPooling2D",
                                       {"pool_size": [2, 2], "strides": None, "padding": "valid"},
                                       [])], [rand(2, 9, 7, 3)])
    write_case("max_pool2d_2_same", [("pool", "MaxPooling2D",
                                      {"pool_size": [2, 2], "strides": [2, 2], "padding": "same"},
                                      [])], [rand(2, 9, 7, 3)])
    write_case("upsampling2d_2", [("up", "UpSampling2D",
                                   {"size": [2, 2], "interpolation": "nearest"}, [])],
               [rand(2, 4, 3, 3)])
    write_case("concatenate", [("cat", "Concatenate", {"axis": -1}, [])],
               [rand(2, 9, 7, 3), rand(2, 9, 7, 5)])
    write_case("add", [("add", "Add", {}, [])], [rand(2, 9, 7, 3), rand(2, 9, 7, 3)])

    bn_weights = [("gamma", rand(3)), ("beta", rand(3)), ("moving_mean", rand(3)),
                  ("moving_variance", rand(3, low=0.5, high=1.5))]
    write_case("batch_normalization", [("bn", "BatchNormalization",
                                        {"axis": [3], "epsilon": 0.001, "center": True,
                                         "scale": True}, bn_weights)], [rand(2, 9, 7, 3)])
    write_case("batch_normalization_no_scale",
               [("bn", "BatchNormalization",
                 {"axis": -1, "epsilon": 0.01, "center": True, "scale": False},
                 [("beta", rand(3)), ("moving_mean", rand(3)),
                  ("moving_variance", rand(3, low=0.5, high=1.5))])], [rand(2, 9, 7, 3)])
    conv_cfg = {"filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
                "dilation_rate": [2, 2], "activation": "linear", "use_bias": False}
    write_case("conv2d_batch_normalization",
               [("conv", "Conv2D", conv_cfg, [("kernel", rand(3, 3, 3, 4))]),
                ("bn", "BatchNormalization", {"axis": -1, "epsilon": 0.001},
                 [("gamma", rand(4)), ("beta", rand(4)), ("moving_mean", rand(4)),
                  ("moving_variance", rand(4, low=0.5, high=1.5))])], [rand(2, 9, 7, 3)])
    write_case("flatten_dense_softmax",
               [("flatten", "Flatten", {"data_format": "channels_last"}, []),
                ("dense", "Dense", {"units": 5, "activation": "softmax", "use_bias": True},
                 [("kernel", rand(4 * 3 * 3, 5)), ("bias", rand(5))])], [rand(2, 4, 3, 3)])
    write_case("relu_layer", [("relu", "ReLU",
                               {"max_value": 0.6, "negative_slope": 0.1, "threshold": 0.2}, [])],
               [rand(2, 9, 7, 3)])
    write_case("activation_tanh", [("act", "Activation", {"activation": "tanh"}, [])],
               [rand(2, 9, 7, 3)])


if __name__ == "__main__":
    main()
