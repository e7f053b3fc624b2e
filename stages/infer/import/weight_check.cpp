// SPDX-License-Identifier: Apache-2.0
// Purpose: the weight check (import/weight_check.hpp).
#include "weight_check.hpp"

#include "stages/error.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstddef>

namespace atrous::infer
{
namespace
{

/// Row-major flat offset -> "(i,j,k,l)" in `shape` (the flat offset when the shape disagrees).
std::string index_text(std::size_t flat, const std::vector<int>& shape)
{
    std::size_t count = 1;
    for (int d : shape)
        count *= static_cast<std::size_t>(d > 0 ? d : 0);
    if (shape.empty() || count == 0 || flat >= count)
        return fmt::format("({})", flat);
    std::vector<std::size_t> index(shape.size());
    for (std::size_t i = shape.size(); i-- > 0;)
    {
        const auto d = static_cast<std::size_t>(shape[i]);
        index[i] = flat % d;
        flat /= d;
    }
    return fmt::format("({})", fmt::join(index, ","));
}

} // namespace

void check_weights(const ModelSpec& spec, const std::string& where)
{
    for (const LayerSpec& layer : spec.layers)
        for (const WeightArray& w : layer.weights)
        {
            const std::vector<float>& v = w.values;
            // A cheap pass first (vectorizable: no branch per element); the culprit after.
            bool bad = false;
            for (const float x : v)
                bad |= !(std::fabs(x) <= max_weight_magnitude); // NaN compares false
            if (!bad)
                continue;
            for (std::size_t i = 0; i < v.size(); ++i)
            {
                const float x = v[i];
                if (std::fabs(x) <= max_weight_magnitude)
                    continue;
                const std::string what =
                    std::isnan(x)   ? std::string("NaN")
                    : std::isinf(x) ? std::string(x > 0 ? "+Inf" : "-Inf")
                                    : fmt::format("{:g} (beyond the accepted magnitude {:g}: it "
                                                  "overflows float32 in a forward pass)",
                                                  x, max_weight_magnitude);
                throw ModelError(where, fmt::format("layer {}: {} holds {} at index {}", layer.name,
                                                    w.name, what, index_text(i, w.shape)));
            }
        }
}

} // namespace atrous::infer
