// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Add (no broadcasting: all inputs must have the same shape).

#include "add.hpp"

#include "concatenate.hpp"
#include "stages/infer/kernels/kernels.hpp"

#include <array>

namespace atrous::infer
{

Add::Add(const LayerSpec& spec, const std::vector<Shape>& inputs)
    : Layer(spec.name, spec.class_name)
{
    output_shape(inputs);
}

Shape Add::output_shape(const std::vector<Shape>& inputs) const
{
    expect_same_grid(*this, inputs, true);
    return inputs[0];
}

void Add::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                  KernelKind kernels) const
{
    // No allocation for the usual few inputs (the forward pass allocates nothing per layer).
    std::array<const float*, 8> few{};
    std::vector<const float*> many(inputs.size() > few.size() ? inputs.size() : 0);
    const float** data = many.empty() ? few.data() : many.data();
    for (std::size_t i = 0; i < inputs.size(); ++i)
        data[i] = inputs[i]->data();
    const int count = static_cast<int>(inputs.size());
    if (kernels == KernelKind::reference)
        kernels::add_ref(output.size(), count, data, output.data());
    else
        kernels::add_tbb(output.size(), count, data, output.data());
}

} // namespace atrous::infer
