// SPDX-License-Identifier: Apache-2.0
// Purpose: weight lookup, shape validation and deterministic initialisation.

#include "weight_set.hpp"

#include "stages/error.hpp"

#include <cmath>
#include <cstdint>
#include <random>

namespace atrous::infer
{
namespace
{

/// Keras names may carry a scope and a ":0" suffix ("conv2d/kernel:0"): keep the last part.
std::string bare_name(const std::string& name)
{
    std::string out = name;
    const auto slash = out.rfind('/');
    if (slash != std::string::npos)
        out = out.substr(slash + 1);
    const auto colon = out.rfind(':');
    if (colon != std::string::npos)
        out = out.substr(0, colon);
    return out;
}

/// FNV-1a: a stable hash (std::hash is not stable across library versions).
std::uint32_t fnv1a(const std::string& text, std::uint32_t seed)
{
    std::uint32_t h = 2166136261u ^ seed;
    for (unsigned char c : text)
    {
        h ^= c;
        h *= 16777619u;
    }
    return h;
}

} // namespace

std::string shape_text(const std::vector<int>& shape)
{
    // Appends piece by piece: GCC 12 at -O3 warns falsely (-Wrestrict) on `"," + std::string`.
    std::string out = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
    {
        if (i)
            out += ',';
        out += std::to_string(shape[i]);
    }
    out += shape.size() == 1 ? ",)" : ")";
    return out;
}

WeightSet::WeightSet(const LayerSpec& spec, const BuildOptions& options)
    : m_spec(spec), m_options(options), m_used(spec.weights.size(), false)
{
}

std::vector<float> WeightSet::take(const std::string& name, const std::vector<int>& shape,
                                   WeightInit init, int fan_in)
{
    const int position = m_taken++;
    const WeightArray* found = nullptr;
    for (std::size_t i = 0; i < m_spec.weights.size(); ++i)
        if (!m_used[i] && bare_name(m_spec.weights[i].name) == name)
        {
            found = &m_spec.weights[i];
            m_used[i] = true;
            break;
        }
    if (!found && position < static_cast<int>(m_spec.weights.size()) && !m_used[position] &&
        m_spec.weights[position].name.empty())
    {
        found = &m_spec.weights[position];
        m_used[position] = true;
    }

    std::size_t count = 1;
    for (int d : shape)
        count *= static_cast<std::size_t>(d);

    if (found)
    {
        if (found->shape != shape)
            throw ModelError("layer " + m_spec.name, name + " shape " + shape_text(shape) +
                                                         " expected, " + shape_text(found->shape) +
                                                         " found");
        if (found->values.size() != count)
            throw ModelError("layer " + m_spec.name,
                             name + " holds " + std::to_string(found->values.size()) + " values, " +
                                 std::to_string(count) + " expected for shape " +
                                 shape_text(shape));
        return found->values;
    }
    if (!m_options.initialize_missing_weights)
        throw ModelError("layer " + m_spec.name,
                         "weight " + name + " " + shape_text(shape) + " missing");

    std::vector<float> values(count, init == WeightInit::ones ? 1.0f : 0.0f);
    if (init == WeightInit::he_uniform)
    {
        std::mt19937 rng(fnv1a(m_spec.name + "/" + name, m_options.seed));
        const float limit = std::sqrt(6.0f / static_cast<float>(std::max(fan_in, 1)));
        for (float& v : values) // mt19937 output is specified; map 24 bits to [-limit, limit)
            v = limit * (2.0f * static_cast<float>(rng() >> 8) / 16777216.0f - 1.0f);
    }
    return values;
}

void WeightSet::expect_all_used() const
{
    std::string unused;
    for (std::size_t i = 0; i < m_spec.weights.size(); ++i)
        if (!m_used[i])
            unused += (unused.empty() ? "" : ", ") + m_spec.weights[i].name +
                      shape_text(m_spec.weights[i].shape);
    if (!unused.empty())
        throw ModelError("layer " + m_spec.name, "unexpected weight(s) " + unused);
}

} // namespace atrous::infer
