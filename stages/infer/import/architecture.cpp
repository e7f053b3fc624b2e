// SPDX-License-Identifier: Apache-2.0
// Purpose: the built-in architectures as ModelSpecs whose layer names are the ones Keras gives
// the seed's own construction code, so `save_weights` files of the seed match by name.
#include "architecture.hpp"

#include "stages/error.hpp"

#include <map>
#include <string>

namespace atrous::infer
{
namespace
{

using nlohmann::json;

/// Keras 2 auto-naming: each class has a counter per snake_case prefix; the first instance is
/// "conv2d", then "conv2d_1", "conv2d_2", ... Names are given when a layer object is
/// CONSTRUCTED, not when it is called, and the counters are per class, so only the construction
/// order among layers of one class matters. `Input()` is the exception: it counts from 1
/// ("input_1").
class KerasNamer
{
public:
    std::string operator()(const std::string& prefix)
    {
        const int n = m_counts[prefix]++;
        return n == 0 ? prefix : prefix + "_" + std::to_string(n);
    }

private:
    std::map<std::string, int> m_counts;
};

json pair(int v)
{
    return json::array({v, v});
}

json initializer(const std::string& class_name)
{
    return {{"class_name", class_name}, {"config", json::object()}};
}

/// The config keys Keras 2 (tf.keras 2.x) writes for each class, with Keras' defaults.
json base_config(const std::string& name)
{
    return {{"name", name}, {"trainable", true}, {"dtype", "float32"}};
}

json conv_config(const std::string& name, int filters, int kernel, int dilation,
                 const std::string& activation)
{
    json c = base_config(name);
    c.update({{"filters", filters},
              {"kernel_size", pair(kernel)},
              {"strides", pair(1)},
              {"padding", "same"},
              {"data_format", "channels_last"},
              {"dilation_rate", pair(dilation)},
              {"groups", 1},
              {"activation", activation},
              {"use_bias", true},
              {"kernel_initializer", initializer("HeNormal")},
              {"bias_initializer", initializer("Zeros")},
              {"kernel_regularizer", nullptr},
              {"bias_regularizer", nullptr},
              {"activity_regularizer", nullptr},
              {"kernel_constraint", nullptr},
              {"bias_constraint", nullptr}});
    return c;
}

json separable_config(const std::string& name, int filters, int kernel, int dilation,
                      const std::string& activation)
{
    json c = base_config(name);
    c.update({{"filters", filters},
              {"kernel_size", pair(kernel)},
              {"strides", pair(1)},
              {"padding", "same"},
              {"data_format", "channels_last"},
              {"dilation_rate", pair(dilation)},
              {"groups", 1},
              {"activation", activation},
              {"use_bias", true},
              {"depth_multiplier", 1},
              {"depthwise_initializer", initializer("GlorotUniform")},
              {"pointwise_initializer", initializer("GlorotUniform")},
              {"bias_initializer", initializer("Zeros")},
              {"depthwise_regularizer", nullptr},
              {"pointwise_regularizer", nullptr},
              {"bias_regularizer", nullptr},
              {"activity_regularizer", nullptr},
              {"depthwise_constraint", nullptr},
              {"pointwise_constraint", nullptr},
              {"bias_constraint", nullptr}});
    return c;
}

/// Appends layers to a spec while naming them the Keras way.
class SpecBuilder
{
public:
    explicit SpecBuilder(ModelSpec& spec) : m_spec(spec) {}

    std::string input(const json& batch_input_shape)
    {
        // Keras' Input() numbers from 1: the first is input_1.
        const std::string input_name = "input_" + std::to_string(++m_inputs);
        json c = {{"batch_input_shape", batch_input_shape},
                  {"dtype", "float32"},
                  {"sparse", false},
                  {"ragged", false},
                  {"name", input_name}};
        add(input_name, "InputLayer", c, {});
        m_spec.inputs.push_back(input_name);
        return input_name;
    }

    /// A 3x3-style convolution: Conv2D, or SeparableConv2D when `separable`.
    std::string conv(bool separable, int filters, int kernel, int dilation,
                     const std::string& activation, const std::string& from)
    {
        const std::string cls = separable ? "SeparableConv2D" : "Conv2D";
        const std::string name = m_names(separable ? "separable_conv2d" : "conv2d");
        return add(name, cls,
                   separable ? separable_config(name, filters, kernel, dilation, activation)
                             : conv_config(name, filters, kernel, dilation, activation),
                   {from});
    }

    /// Names a Conv2D now (construction) and adds it later (call): see the decoder.
    std::string reserve(const std::string& prefix) { return m_names(prefix); }

    std::string add(const std::string& name, const std::string& cls, json config,
                    std::vector<std::string> inputs)
    {
        LayerSpec layer;
        layer.name = name;
        layer.class_name = cls;
        layer.config = std::move(config);
        layer.inputs = std::move(inputs);
        m_spec.layers.push_back(std::move(layer));
        return name;
    }

    std::string max_pool(const std::string& from)
    {
        const std::string name = m_names("max_pooling2d");
        json c = base_config(name);
        c.update({{"pool_size", pair(2)},
                  {"padding", "valid"},
                  {"strides", pair(2)},
                  {"data_format", "channels_last"}});
        return add(name, "MaxPooling2D", c, {from});
    }

    std::string dropout(double rate, const std::string& from)
    {
        const std::string name = m_names("dropout");
        json c = base_config(name);
        c.update({{"rate", rate}, {"noise_shape", nullptr}, {"seed", nullptr}});
        return add(name, "Dropout", c, {from});
    }

    std::string upsample(const std::string& from)
    {
        const std::string name = m_names("up_sampling2d");
        json c = base_config(name);
        c.update(
            {{"size", pair(2)}, {"data_format", "channels_last"}, {"interpolation", "nearest"}});
        return add(name, "UpSampling2D", c, {from});
    }

    std::string concatenate(const std::string& a, const std::string& b)
    {
        const std::string name = m_names("concatenate");
        json c = base_config(name);
        c["axis"] = 3;
        return add(name, "Concatenate", c, {a, b});
    }

    std::string flatten(const std::string& from)
    {
        const std::string name = m_names("flatten");
        json c = base_config(name);
        c["data_format"] = "channels_last";
        return add(name, "Flatten", c, {from});
    }

    std::string dense(int units, const std::string& activation, const std::string& from)
    {
        const std::string name = m_names("dense");
        json c = base_config(name);
        c.update({{"units", units},
                  {"activation", activation},
                  {"use_bias", true},
                  {"kernel_initializer", initializer("GlorotUniform")},
                  {"bias_initializer", initializer("Zeros")},
                  {"kernel_regularizer", nullptr},
                  {"bias_regularizer", nullptr},
                  {"activity_regularizer", nullptr},
                  {"kernel_constraint", nullptr},
                  {"bias_constraint", nullptr}});
        return add(name, "Dense", c, {from});
    }

private:
    ModelSpec& m_spec;
    KerasNamer m_names;
    int m_inputs = 0;
};

void check(bool ok, const std::string& where, const std::string& what)
{
    if (!ok)
        throw ModelError(where, what);
}

/// The seed U-Net, written the way zhixuhao/unet's model.py builds it:
///   conv1 = Conv2D(64, 3, ...)(inputs); conv1 = Conv2D(64, 3, ...)(conv1)
///   pool1 = MaxPooling2D(pool_size=(2, 2))(conv1) ... drop4 = Dropout(0.5)(conv4) ...
///   up6 = Conv2D(512, 2, ...)(UpSampling2D(size=(2, 2))(drop5))
///   merge6 = concatenate([drop4, up6], axis=3); conv6 = Conv2D(512, 3, ...)(merge6) ...
/// In `up6 = Conv2D(...)(UpSampling2D(...)(drop5))` Python constructs the Conv2D before the
/// UpSampling2D, so that Conv2D takes the next conv2d_N number before the decoder's 3x3 convs;
/// the 2x2 "up" convolution of the deepest decoder level of the default seed is conv2d_10, its
/// 3x3 convolutions conv2d_11 and conv2d_12, the last 3x3 conv2d_22 and the 1x1 head conv2d_23.
ModelSpec unet_spec(const UnetArchitecture& a)
{
    const std::string where = "builtin unet";
    check(a.depth >= 1 && a.depth <= 12, where,
          "depth 1..12 expected, " + std::to_string(a.depth) + " found");
    check(static_cast<int>(a.dilation.size()) == a.depth, where,
          "one dilation per level expected (" + std::to_string(a.depth) + "), " +
              std::to_string(a.dilation.size()) + " found");
    check(a.filters >= 1 && (static_cast<long long>(a.filters) << (a.depth - 1)) <= (1 << 20),
          where,
          "filters >= 1 and filters * 2^(depth-1) <= 1048576 expected, " +
              std::to_string(a.filters) + " found");
    check(a.in_channels >= 1, where, "in_channels >= 1 expected");
    check(a.classes >= 1, where, "classes >= 1 expected");
    check(a.dropout >= 0.0 && a.dropout < 1.0, where, "dropout in [0, 1) expected");
    for (const int d : a.dilation)
        check(d >= 1, where, "dilation >= 1 expected, " + std::to_string(d) + " found");

    ModelSpec spec;
    spec.name = "unet";
    spec.source = where;
    SpecBuilder b(spec);
    std::string x = b.input(json::array({nullptr, nullptr, nullptr, a.in_channels}));
    std::vector<std::string> skips;
    for (int level = 1; level <= a.depth; ++level)
    {
        const int f = a.filters << (level - 1);
        const int d = a.dilation[static_cast<std::size_t>(level - 1)];
        x = b.conv(a.separable, f, 3, d, "relu", x);
        x = b.conv(a.separable, f, 3, d, "relu", x);
        if (d > 1)
            x = b.dropout(a.dropout, x);
        skips.push_back(x);
        if (level < a.depth)
            x = b.max_pool(x);
    }
    for (int level = a.depth - 1; level >= 1; --level)
    {
        const int f = a.filters << (level - 1);
        const std::string up_conv = b.reserve("conv2d"); // constructed before the UpSampling2D
        x = b.upsample(x);
        x = b.add(up_conv, "Conv2D", conv_config(up_conv, f, 2, 1, "relu"), {x});
        x = b.concatenate(skips[static_cast<std::size_t>(level - 1)], x);
        x = b.conv(a.separable, f, 3, 1, "relu", x);
        x = b.conv(a.separable, f, 3, 1, "relu", x);
    }
    x = b.conv(a.separable, 2, 3, 1, "relu", x);
    const std::string head = b.reserve("conv2d");
    x = b.add(head, "Conv2D",
              conv_config(head, a.classes, 1, 1, a.classes == 1 ? "sigmoid" : "softmax"), {x});
    spec.outputs.push_back(x);
    return spec;
}

/// The seed classifier (Keras' SeparableConv2D MNIST example, functional form).
ModelSpec classifier_spec(const ClassifierArchitecture& a)
{
    const std::string where = "builtin classifier";
    check(a.height >= 4 && a.width >= 4, where, "height and width >= 4 expected");
    check(a.in_channels >= 1 && a.classes >= 1, where, "in_channels, classes >= 1 expected");
    ModelSpec spec;
    spec.name = "classifier";
    spec.source = where;
    SpecBuilder b(spec);
    std::string x = b.input(json::array({nullptr, a.height, a.width, a.in_channels}));
    x = b.conv(true, 32, 3, 1, "relu", x);
    x = b.max_pool(x);
    x = b.conv(true, 64, 3, 1, "relu", x);
    x = b.max_pool(x);
    x = b.flatten(x);
    x = b.dropout(0.5, x);
    x = b.dense(a.classes, "softmax", x);
    spec.outputs.push_back(x);
    return spec;
}

} // namespace

ModelSpec builtin_model_spec(const Architecture& arch)
{
    if (const auto* unet = std::get_if<UnetArchitecture>(&arch))
        return unet_spec(*unet);
    return classifier_spec(std::get<ClassifierArchitecture>(arch));
}

} // namespace atrous::infer
