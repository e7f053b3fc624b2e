// SPDX-License-Identifier: Apache-2.0
// Purpose: terse construction of ModelSpecs in tests (Keras class names and configs).
#pragma once

#include "stages/infer/import/model_spec.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace atrous::test
{

/// Appends layers to a ModelSpec; each call returns the new layer's name.
class SpecBuilder
{
public:
    explicit SpecBuilder(std::string name = "test")
    {
        m_spec.name = name;
        m_spec.source = "test " + name;
    }

    std::string input(const std::string& name, nlohmann::json batch_shape)
    {
        return add(name, "InputLayer", {{"batch_input_shape", std::move(batch_shape)}}, {});
    }

    std::string add(const std::string& name, const std::string& class_name, nlohmann::json config,
                    std::vector<std::string> inputs, std::vector<infer::WeightArray> weights = {})
    {
        infer::LayerSpec layer;
        layer.name = name;
        layer.class_name = class_name;
        layer.config = std::move(config);
        layer.inputs = std::move(inputs);
        layer.weights = std::move(weights);
        m_spec.layers.push_back(std::move(layer));
        return name;
    }

    std::string conv(const std::string& name, const std::string& in, int filters, int k,
                     int dilation = 1, const std::string& activation = "relu",
                     const std::string& padding = "same")
    {
        return add(name, "Conv2D",
                   {{"filters", filters},
                    {"kernel_size", {k, k}},
                    {"dilation_rate", {dilation, dilation}},
                    {"padding", padding},
                    {"activation", activation}},
                   {in});
    }

    infer::ModelSpec& spec() { return m_spec; }

private:
    infer::ModelSpec m_spec;
};

/// A weight array of `shape` filled with value(i) for flat index i.
template <typename Fn>
infer::WeightArray weight(const std::string& name, std::vector<int> shape, Fn value)
{
    infer::WeightArray w{name, shape, {}};
    std::size_t count = 1;
    for (int d : shape)
        count *= static_cast<std::size_t>(d);
    for (std::size_t i = 0; i < count; ++i)
        w.values.push_back(static_cast<float>(value(i)));
    return w;
}

/// A small U-Net with 2 input channels: a skip Concatenate, pooling, upsampling, dilated convs and
/// a pass-through Dropout; `with_add` adds a residual Add over the concatenation before the head.
inline infer::ModelSpec small_unet_spec(const std::string& name, bool with_add)
{
    SpecBuilder b(name);
    b.input("input", {nullptr, nullptr, nullptr, 2});
    b.conv("c1", "input", 6, 3);
    b.conv("c2", "c1", 6, 3, 2);
    b.add("pool", "MaxPooling2D", {{"pool_size", {2, 2}}}, {"c2"});
    b.conv("c3", "pool", 12, 3, 2);
    b.add("drop", "Dropout", {{"rate", 0.5}}, {"c3"});
    b.add("up", "UpSampling2D", {{"size", {2, 2}}}, {"drop"});
    b.conv("c4", "up", 6, 2);
    b.add("cat", "Concatenate", {{"axis", -1}}, {"c2", "c4"});
    if (with_add)
    {
        b.conv("c5", "cat", 12, 3);
        b.add("sum", "Add", {}, {"cat", "c5"});
        b.conv("out", "sum", 1, 1, 1, "sigmoid");
    }
    else
    {
        b.conv("c5", "cat", 6, 3);
        b.conv("out", "c5", 1, 1, 1, "sigmoid");
    }
    return b.spec();
}

} // namespace atrous::test
