// SPDX-License-Identifier: Apache-2.0
// Purpose: the trained models/membrane.h5 runs in atrous as it does in PyTorch: probabilities on
// an EM-like 64x64 patch within 1e-4 of the float64 golden (tools/make_membrane_fixture.py).
#include "stages/infer/engine/model.hpp"
#include "stages/infer/import/h5_file.hpp"
#include "stages/infer/import/keras_h5.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace atrous::infer
{
namespace
{

std::filesystem::path membrane_model()
{
    return std::filesystem::path(ATROUS_FIXTURES_DIR) / ".." / ".." / "models" / "membrane.h5";
}

Tensor dataset(const H5File& file, const std::string& name)
{
    const H5FloatArray array = file.float_dataset(name);
    if (array.shape.size() != 4)
        throw std::runtime_error(name + ": NHWC dataset expected");
    Tensor t(Shape{array.shape[0], array.shape[1], array.shape[2], array.shape[3]});
    std::copy(array.values.begin(), array.values.end(), t.data());
    return t;
}

/// Largest |a - b| over two tensors of the same shape.
double max_abs_difference(const Tensor& a, const Tensor& b)
{
    double worst = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::fabs(double(a.data()[i]) - double(b.data()[i])));
    return worst;
}

TEST(MembraneModel, IsTheWidth16SeedUnet)
{
    const ModelSpec spec = load_keras_h5(membrane_model());
    UnetArchitecture arch;
    arch.filters = 16;
    const ModelSpec builtin = builtin_model_spec(arch);
    ASSERT_EQ(spec.layers.size(), builtin.layers.size());
    for (std::size_t i = 0; i < spec.layers.size(); ++i)
    {
        EXPECT_EQ(spec.layers[i].name, builtin.layers[i].name);
        EXPECT_EQ(spec.layers[i].class_name, builtin.layers[i].class_name);
        EXPECT_EQ(spec.layers[i].inputs, builtin.layers[i].inputs);
    }
    const Model model(spec);
    EXPECT_EQ(model.params(), 1941093);
    EXPECT_EQ(model.facts().in_channels, 1);
    EXPECT_EQ(model.facts().out_channels, 1);
    EXPECT_EQ(model.facts().total_stride, 16);
    EXPECT_EQ(model.facts().output_activation, "sigmoid");
}

TEST(MembraneModel, MatchesPyTorchOnAnEmLikePatch)
{
    const H5File io(std::filesystem::path(ATROUS_FIXTURES_DIR) / "models" / "membrane_io.h5");
    const Tensor input = dataset(io, "/input");
    const Tensor expected = dataset(io, "/output");
    ASSERT_EQ(input.shape(), (Shape{1, 64, 64, 1}));
    ASSERT_EQ(expected.shape(), (Shape{1, 64, 64, 1}));

    // The golden is not degenerate: the model finds the patch's membranes (about a quarter of
    // the pixels below 0.5, P(cell interior)) and is confident on the cell interiors.
    const auto membrane = std::count_if(expected.data(), expected.data() + expected.size(),
                                        [](float p) { return p < 0.5f; });
    EXPECT_GT(membrane, 64 * 64 / 8);
    EXPECT_LT(membrane, 64 * 64 / 2);
    EXPECT_GT(*std::max_element(expected.data(), expected.data() + expected.size()), 0.99f);

    const Model model(load_keras_h5(membrane_model()));
    for (const KernelKind kind : {KernelKind::reference, KernelKind::fast})
    {
        ForwardOptions options;
        options.kernels = kind;
        const Tensor output = model.forward(input, options);
        ASSERT_EQ(output.shape(), expected.shape());
        EXPECT_LT(max_abs_difference(output, expected), 1e-4)
            << (kind == KernelKind::reference ? "reference" : "fast") << " kernels";
    }
}

} // namespace
} // namespace atrous::infer
