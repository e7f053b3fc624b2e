// SPDX-License-Identifier: Apache-2.0
// Purpose: the explicit list of supported Keras layer classes -> constructors (an explicit list,
// not self-registration, so a static library cannot drop an entry).

#include "layer_factory.hpp"

#include "activation.hpp"
#include "add.hpp"
#include "batch_normalization.hpp"
#include "concatenate.hpp"
#include "conv2d.hpp"
#include "conv2d_transpose.hpp"
#include "dense.hpp"
#include "depthwise_conv2d.hpp"
#include "flatten.hpp"
#include "identity.hpp"
#include "max_pool2d.hpp"
#include "separable_conv2d.hpp"
#include "upsampling2d.hpp"

#include <algorithm>

namespace atrous::infer
{
namespace
{

using Inputs = std::vector<Shape>;
using Make = std::unique_ptr<Layer> (*)(const LayerSpec&, const Inputs&, WeightSet&);

struct Entry
{
    const char* class_name;
    Make make;
};

template <typename L>
std::unique_ptr<Layer> weighted(const LayerSpec& s, const Inputs& i, WeightSet& w)
{
    return std::make_unique<L>(s, i, w);
}

template <typename L> std::unique_ptr<Layer> plain(const LayerSpec& s, const Inputs& i, WeightSet&)
{
    return std::make_unique<L>(s, i);
}

std::unique_ptr<Layer> input_layer(const LayerSpec& s, const Inputs&, WeightSet&)
{
    return std::make_unique<InputLayer>(s);
}

// Keras 2 and 3 class names; aliases (MaxPool2D) listed beside their layer.
constexpr Entry k_layers[] = {
    {"InputLayer", input_layer},
    {"Conv2D", weighted<Conv2d>},
    {"DepthwiseConv2D", weighted<DepthwiseConv2d>},
    {"SeparableConv2D", weighted<SeparableConv2d>},
    {"Conv2DTranspose", weighted<Conv2dTranspose>},
    {"MaxPooling2D", plain<MaxPool2d>},
    {"MaxPool2D", plain<MaxPool2d>},
    {"UpSampling2D", plain<UpSampling2d>},
    {"Concatenate", plain<Concatenate>},
    {"Add", plain<Add>},
    {"BatchNormalization", weighted<BatchNormalization>},
    {"Activation", plain<ActivationLayer>},
    {"ReLU", plain<ActivationLayer>},
    {"Softmax", plain<ActivationLayer>},
    {"Dense", weighted<Dense>},
    {"Flatten", plain<Flatten>},
    {"Dropout", plain<Identity>},
    {"SpatialDropout2D", plain<Identity>},
};

const Entry* find_entry(const std::string& class_name)
{
    for (const Entry& e : k_layers)
        if (class_name == e.class_name)
            return &e;
    return nullptr;
}

} // namespace

const std::vector<std::string>& supported_layer_classes()
{
    static const std::vector<std::string> names = []
    {
        std::vector<std::string> out;
        for (const Entry& e : k_layers)
            out.emplace_back(e.class_name);
        return out;
    }();
    return names;
}

bool is_supported_layer_class(const std::string& class_name)
{
    return find_entry(class_name) != nullptr;
}

std::unique_ptr<Layer> make_layer(const LayerSpec& spec, const std::vector<Shape>& inputs,
                                  const BuildOptions& options)
{
    const Entry* entry = find_entry(spec.class_name);
    if (!entry)
        throw ModelError("layer " + spec.name, "unsupported layer class " + spec.class_name);
    WeightSet weights(spec, options);
    std::unique_ptr<Layer> layer = entry->make(spec, inputs, weights);
    weights.expect_all_used();
    return layer;
}

} // namespace atrous::infer
