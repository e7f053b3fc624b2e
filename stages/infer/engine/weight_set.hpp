// SPDX-License-Identifier: Apache-2.0
// Purpose: hands a layer its Keras weights by name with shape checks, or deterministic
// initial values when the build options allow missing weights.
#pragma once

#include "stages/infer/engine/model.hpp"
#include "stages/infer/import/model_spec.hpp"

#include <string>
#include <vector>

namespace atrous::infer
{

/// How to fill a weight that the spec lacks; used only with
/// BuildOptions::initialize_missing_weights (otherwise every missing weight is a ModelError).
enum class WeightInit
{
    he_uniform, // U(-sqrt(6/fan_in), +sqrt(6/fan_in)), seeded by BuildOptions::seed + names
    zeros,
    ones
};

class WeightSet
{
public:
    WeightSet(const LayerSpec& spec, const BuildOptions& options);

    /// The weight `name` with Keras shape `shape`. Looked up by name, else by position (the
    /// n-th take() gets the n-th unnamed weight). Throws ModelError "layer <l>: <name> shape
    /// (..) expected, (..) found" on a shape mismatch, "... missing" when absent and not allowed
    /// to initialize. `fan_in` is used by he_uniform.
    std::vector<float> take(const std::string& name, const std::vector<int>& shape, WeightInit init,
                            int fan_in = 1);

    /// Throws when the spec holds weights no take() consumed (a sign of a wrong layer config).
    void expect_all_used() const;

    /// The model's build options (a layer reads BuildOptions::precision).
    const BuildOptions& options() const { return m_options; }

private:
    const LayerSpec& m_spec;
    BuildOptions m_options;
    std::vector<bool> m_used;
    int m_taken = 0;
};

/// "(3,3,64,128)".
std::string shape_text(const std::vector<int>& shape);

} // namespace atrous::infer
