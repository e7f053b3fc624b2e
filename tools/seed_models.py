#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: the seed U-Net and the seed classifier as PyTorch modules with Keras' conventions, and
# their layers listed the way Keras names, wires and stores them (the bridge to Keras HDF5).
"""PyTorch twins of atrous' built-in architectures.

Keras conventions reproduced here (so a Keras file written from these modules runs the same in
atrous):
  * padding="same": total padding (k-1)*d split as floor before / ceil after, i.e. an even kernel
    pads 0 before and 1 after (TensorFlow's rule), done with F.pad before an unpadded conv;
  * UpSampling2D(2): nearest neighbour;
  * Flatten before Dense flattens in channels_last (H, W, C) order, so the Dense weights need no
    permutation beyond (out, in) -> (in, out);
  * Dropout is the identity at inference and has no weights.
Keras layouts: Conv2D kernel (kh, kw, cin, cout) from PyTorch OIHW; SeparableConv2D
depthwise_kernel (kh, kw, cin, 1) from PyTorch (cin, 1, kh, kw) and pointwise_kernel
(1, 1, cin, cout) from (cout, cin, 1, 1); Dense kernel (in, out) from Linear (out, in).

keras_layers() lists every layer in Keras' model.layers order with the names Keras gives the
seed's construction code (see stages/infer/import/architecture.cpp), Keras 2 configs, the names
of its inputs and its weights as numpy arrays in Keras layout.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class KerasNamer:
    """Keras 2 auto-names: per snake_case prefix, first "conv2d", then "conv2d_1", ...

    Names are taken when a layer is constructed; Input() counts from 1 ("input_1")."""

    def __init__(self):
        self.counts = {}

    def __call__(self, prefix):
        n = self.counts.get(prefix, 0)
        self.counts[prefix] = n + 1
        return prefix if n == 0 else "%s_%d" % (prefix, n)


def _initializer(class_name):
    return {"class_name": class_name, "config": {}}


def _base(name):
    return {"name": name, "trainable": True, "dtype": "float32"}


def conv_config(name, filters, kernel, dilation, activation):
    c = _base(name)
    c.update({"filters": filters, "kernel_size": [kernel, kernel], "strides": [1, 1],
              "padding": "same", "data_format": "channels_last",
              "dilation_rate": [dilation, dilation], "groups": 1, "activation": activation,
              "use_bias": True, "kernel_initializer": _initializer("HeNormal"),
              "bias_initializer": _initializer("Zeros"), "kernel_regularizer": None,
              "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
              "bias_constraint": None})
    return c


def separable_config(name, filters, kernel, dilation, activation):
    c = _base(name)
    c.update({"filters": filters, "kernel_size": [kernel, kernel], "strides": [1, 1],
              "padding": "same", "data_format": "channels_last",
              "dilation_rate": [dilation, dilation], "groups": 1, "activation": activation,
              "use_bias": True, "depth_multiplier": 1,
              "depthwise_initializer": _initializer("GlorotUniform"),
              "pointwise_initializer": _initializer("GlorotUniform"),
              "bias_initializer": _initializer("Zeros"), "depthwise_regularizer": None,
              "pointwise_regularizer": None, "bias_regularizer": None,
              "activity_regularizer": None, "depthwise_constraint": None,
              "pointwise_constraint": None, "bias_constraint": None})
    return c


def _layer(name, class_name, config, inputs, weights=()):
    return {"name": name, "class_name": class_name, "config": config, "inputs": list(inputs),
            "weights": list(weights)}


def input_layer(name, batch_input_shape):
    return _layer(name, "InputLayer", {"batch_input_shape": batch_input_shape, "dtype": "float32",
                                       "sparse": False, "ragged": False, "name": name}, [])


def max_pool_layer(name, source):
    c = _base(name)
    c.update({"pool_size": [2, 2], "padding": "valid", "strides": [2, 2],
              "data_format": "channels_last"})
    return _layer(name, "MaxPooling2D", c, [source])


def dropout_layer(name, rate, source):
    c = _base(name)
    c.update({"rate": rate, "noise_shape": None, "seed": None})
    return _layer(name, "Dropout", c, [source])


def upsampling_layer(name, source):
    c = _base(name)
    c.update({"size": [2, 2], "data_format": "channels_last", "interpolation": "nearest"})
    return _layer(name, "UpSampling2D", c, [source])


def concatenate_layer(name, a, b):
    c = _base(name)
    c["axis"] = 3
    return _layer(name, "Concatenate", c, [a, b])


def activate(x, activation):
    if activation == "relu":
        return F.relu(x)
    if activation == "sigmoid":
        return torch.sigmoid(x)
    if activation == "softmax":
        return torch.softmax(x, dim=1)
    assert activation == "linear", activation
    return x


def _numpy(t):
    return t.detach().to(torch.float32).cpu().numpy().copy()


class SameConv2d(nn.Module):
    """Keras Conv2D(filters, k, padding="same", dilation_rate=d, activation=...)."""

    def __init__(self, cin, cout, k, dilation=1, activation="relu"):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, dilation=dilation, bias=True)
        self.k, self.dilation, self.activation = k, dilation, activation

    def forward(self, x):
        total = (self.k - 1) * self.dilation
        before = total // 2
        x = F.pad(x, (before, total - before, before, total - before))
        return activate(self.conv(x), self.activation)

    def keras(self, name, source):
        c = conv_config(name, self.conv.out_channels, self.k, self.dilation, self.activation)
        w = [("kernel", _numpy(self.conv.weight.permute(2, 3, 1, 0))),
             ("bias", _numpy(self.conv.bias))]
        return _layer(name, "Conv2D", c, [source], w)


class SameSeparableConv2d(nn.Module):
    """Keras SeparableConv2D(filters, k, padding="same", depth_multiplier=1, activation=...):
    depthwise k x k (dilated, no bias), then pointwise 1x1 with the bias, then the activation."""

    def __init__(self, cin, cout, k, dilation=1, activation="relu"):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, k, dilation=dilation, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=True)
        self.k, self.dilation, self.activation = k, dilation, activation

    def forward(self, x):
        total = (self.k - 1) * self.dilation
        before = total // 2
        x = F.pad(x, (before, total - before, before, total - before))
        return activate(self.pointwise(self.depthwise(x)), self.activation)

    def keras(self, name, source):
        c = separable_config(name, self.pointwise.out_channels, self.k, self.dilation,
                             self.activation)
        w = [("depthwise_kernel", _numpy(self.depthwise.weight.permute(2, 3, 0, 1))),
             ("pointwise_kernel", _numpy(self.pointwise.weight.permute(2, 3, 1, 0))),
             ("bias", _numpy(self.pointwise.bias))]
        return _layer(name, "SeparableConv2D", c, [source], w)


class SeedUnet(nn.Module):
    """The seed dilated U-Net (zhixuhao/unet structure; see architecture.hpp). NCHW in and out."""

    def __init__(self, filters=64, depth=5, dilation=(1, 1, 1, 2, 2), separable=False,
                 in_channels=1, classes=1, dropout=0.5):
        super().__init__()
        assert len(dilation) == depth
        self.depth, self.dilation, self.separable = depth, list(dilation), separable
        self.in_channels, self.classes, self.dropout = in_channels, classes, dropout
        conv3 = SameSeparableConv2d if separable else SameConv2d
        self.encoder = nn.ModuleList()
        cin = in_channels
        for level in range(1, depth + 1):
            f, d = filters << (level - 1), self.dilation[level - 1]
            self.encoder.append(nn.ModuleList([conv3(cin, f, 3, d), conv3(f, f, 3, d)]))
            cin = f
        self.decoder = nn.ModuleList()
        for level in range(depth - 1, 0, -1):
            f = filters << (level - 1)
            self.decoder.append(nn.ModuleList(
                [SameConv2d(cin, f, 2), conv3(2 * f, f, 3), conv3(f, f, 3)]))
            cin = f
        self.final = conv3(cin, 2, 3)
        self.head = SameConv2d(2, classes, 1, activation="sigmoid" if classes == 1 else "softmax")

    def forward(self, x):
        skips = []
        for level, (a, b) in enumerate(self.encoder, start=1):
            x = b(a(x))  # Dropout after dilated levels: identity at inference
            skips.append(x)
            if level < self.depth:
                x = F.max_pool2d(x, 2)
        for j, (up, a, b) in enumerate(self.decoder):
            level = self.depth - 1 - j
            x = up(F.interpolate(x, scale_factor=2, mode="nearest"))
            x = torch.cat([skips[level - 1], x], dim=1)
            x = b(a(x))
        return self.head(self.final(x))

    def keras_layers(self, input_name="input_1"):
        """Layers in Keras order, named as Keras names the seed's construction sequence."""
        names = KerasNamer()
        conv3 = "separable_conv2d" if self.separable else "conv2d"
        layers = [input_layer(input_name, [None, None, None, self.in_channels])]
        x, skips = input_name, []
        for level, (a, b) in enumerate(self.encoder, start=1):
            for conv in (a, b):
                layers.append(conv.keras(names(conv3), x))
                x = layers[-1]["name"]
            if self.dilation[level - 1] > 1:
                layers.append(dropout_layer(names("dropout"), self.dropout, x))
                x = layers[-1]["name"]
            skips.append(x)
            if level < self.depth:
                layers.append(max_pool_layer(names("max_pooling2d"), x))
                x = layers[-1]["name"]
        for j, (up, a, b) in enumerate(self.decoder):
            level = self.depth - 1 - j
            # up6 = Conv2D(...)(UpSampling2D(...)(drop5)): the Conv2D is constructed first.
            up_name = names("conv2d")
            layers.append(upsampling_layer(names("up_sampling2d"), x))
            layers.append(up.keras(up_name, layers[-1]["name"]))
            layers.append(concatenate_layer(names("concatenate"), skips[level - 1], up_name))
            x = layers[-1]["name"]
            for conv in (a, b):
                layers.append(conv.keras(names(conv3), x))
                x = layers[-1]["name"]
        layers.append(self.final.keras(names(conv3), x))
        layers.append(self.head.keras(names("conv2d"), layers[-1]["name"]))
        return layers


class SeedClassifier(nn.Module):
    """The seed SeparableConv2D classifier. NCHW in; (n, classes) softmax out."""

    def __init__(self, height=28, width=28, in_channels=1, classes=10):
        super().__init__()
        self.height, self.width, self.in_channels = height, width, in_channels
        self.conv1 = SameSeparableConv2d(in_channels, 32, 3)
        self.conv2 = SameSeparableConv2d(32, 64, 3)
        self.dense = nn.Linear(64 * (height // 4) * (width // 4), classes)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2)
        x = F.max_pool2d(self.conv2(x), 2)
        x = x.permute(0, 2, 3, 1).flatten(1)  # Keras' Flatten: channels_last order
        return torch.softmax(self.dense(x), dim=1)

    def keras_layers(self, input_name="input_1"):
        names = KerasNamer()
        layers = [input_layer(input_name, [None, self.height, self.width, self.in_channels])]
        layers.append(self.conv1.keras(names("separable_conv2d"), input_name))
        layers.append(max_pool_layer(names("max_pooling2d"), layers[-1]["name"]))
        layers.append(self.conv2.keras(names("separable_conv2d"), layers[-1]["name"]))
        layers.append(max_pool_layer(names("max_pooling2d"), layers[-1]["name"]))
        name = names("flatten")
        c = _base(name)
        c["data_format"] = "channels_last"
        layers.append(_layer(name, "Flatten", c, [layers[-1]["name"]]))
        layers.append(dropout_layer(names("dropout"), 0.5, name))
        name = names("dense")
        c = _base(name)
        c.update({"units": self.dense.out_features, "activation": "softmax", "use_bias": True,
                  "kernel_initializer": _initializer("GlorotUniform"),
                  "bias_initializer": _initializer("Zeros"), "kernel_regularizer": None,
                  "bias_regularizer": None, "activity_regularizer": None,
                  "kernel_constraint": None, "bias_constraint": None})
        w = [("kernel", _numpy(self.dense.weight.t())), ("bias", _numpy(self.dense.bias))]
        layers.append(_layer(name, "Dense", c, [layers[-1]["name"]], w))
        return layers


def build(arch, **kwargs):
    """'unet' or 'classifier' with the constructor's keyword arguments."""
    return {"unet": SeedUnet, "classifier": SeedClassifier}[arch](**kwargs)
