// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Concatenate over channels; inputs must share batch, height and width.

#include "concatenate.hpp"

#include "stages/infer/engine/keras_config.hpp"
#include "stages/infer/kernels/kernels.hpp"

#include <sstream>

namespace atrous::infer
{

void expect_same_grid(const Layer& layer, const std::vector<Shape>& inputs, bool channels_too)
{
    if (inputs.size() < 2)
        throw ModelError("layer " + layer.name(),
                         "2 or more inputs expected, " + std::to_string(inputs.size()) + " found");
    const auto differ = [](int a, int b) { return a != 0 && b != 0 && a != b; };
    for (const Shape& s : inputs)
        if (differ(s.n, inputs[0].n) || differ(s.h, inputs[0].h) || differ(s.w, inputs[0].w) ||
            (channels_too && s.c != inputs[0].c))
        {
            std::ostringstream text;
            text << "inputs of matching " << (channels_too ? "shapes" : "batch, height and width")
                 << " expected, found";
            for (const Shape& t : inputs)
                text << " " << t;
            throw ModelError("layer " + layer.name(), text.str());
        }
}

Concatenate::Concatenate(const LayerSpec& spec, const std::vector<Shape>& inputs)
    : Layer(spec.name, spec.class_name)
{
    const KerasConfig config(spec.config, spec.name);
    const int axis = config.integer("axis", -1);
    if (axis != -1 && axis != 3)
        config.fail("axis", "-1 or 3 (channels)");
    output_shape(inputs);
}

Shape Concatenate::output_shape(const std::vector<Shape>& inputs) const
{
    expect_same_grid(*this, inputs, false);
    Shape out = inputs[0];
    out.c = 0;
    for (const Shape& s : inputs)
        out.c += s.c;
    return out;
}

void Concatenate::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                          KernelKind kernels) const
{
    std::vector<const float*> data;
    std::vector<int> channels;
    for (const Tensor* t : inputs)
    {
        data.push_back(t->data());
        channels.push_back(t->shape().c);
    }
    const Shape& out = output.shape();
    const std::size_t pixels = static_cast<std::size_t>(out.n) * out.h * out.w;
    const int count = static_cast<int>(inputs.size());
    if (kernels == KernelKind::reference)
        kernels::concat_channels_ref(pixels, count, data.data(), channels.data(), output.data());
    else
        kernels::concat_channels_tbb(pixels, count, data.data(), channels.data(), output.data());
}

} // namespace atrous::infer
