// SPDX-License-Identifier: Apache-2.0
// Purpose: the non-finite scan (engine/finite_scan.hpp).
#include "finite_scan.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace atrous::infer
{
namespace
{

/// True when some value of data[0, count) has an all-ones exponent (NaN or Inf). Integer bit
/// tests keep it independent of floating-point flags and let the loop vectorize (an OR
/// reduction, no early exit).
bool any_non_finite(const float* data, std::size_t count)
{
    std::uint32_t any = 0;
    for (std::size_t i = 0; i < count; ++i)
    {
        const auto bits = std::bit_cast<std::uint32_t>(data[i]);
        any |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    return any != 0;
}

} // namespace

std::optional<std::size_t> first_non_finite(const float* data, std::size_t count)
{
    constexpr std::size_t block = 4096;
    for (std::size_t start = 0; start < count; start += block)
    {
        const std::size_t n = std::min(block, count - start);
        if (!any_non_finite(data + start, n))
            continue;
        for (std::size_t i = start; i < start + n; ++i)
            if (!std::isfinite(data[i]))
                return i;
    }
    return std::nullopt;
}

std::optional<NonFinite> first_non_finite(const Tensor& t)
{
    const Shape& s = t.shape();
    if (s.size() == 0)
        return std::nullopt;
    const auto at = [&](std::size_t pixel, int c)
    {
        NonFinite f;
        f.c = c;
        f.x = static_cast<int>(pixel % static_cast<std::size_t>(s.w));
        f.y =
            static_cast<int>(pixel / static_cast<std::size_t>(s.w) % static_cast<std::size_t>(s.h));
        f.n = static_cast<int>(pixel / (static_cast<std::size_t>(s.w) * s.h));
        f.value = t.at(f.n, f.y, f.x, f.c);
        return f;
    };
    if (t.contiguous())
    {
        const auto i = first_non_finite(t.data(), t.size());
        if (!i)
            return std::nullopt;
        return at(*i / static_cast<std::size_t>(s.c), static_cast<int>(*i % s.c));
    }
    // A channel slice of a wider buffer: pixel by pixel.
    const std::size_t pixels = s.size() / static_cast<std::size_t>(s.c);
    const float* data = t.data();
    for (std::size_t p = 0; p < pixels; ++p)
    {
        const float* px = data + p * static_cast<std::size_t>(t.pixel_stride());
        if (const auto i = first_non_finite(px, static_cast<std::size_t>(s.c)))
            return at(p, static_cast<int>(*i));
    }
    return std::nullopt;
}

const char* non_finite_name(float value)
{
    return std::isnan(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
}

} // namespace atrous::infer
