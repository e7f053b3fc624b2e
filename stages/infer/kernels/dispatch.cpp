// SPDX-License-Identifier: Apache-2.0
// Purpose: kernels.def expanded into the variant table.

#include "dispatch.hpp"

#include <array>

namespace atrous::infer::kernels
{

namespace
{

// Each table keeps the entries of its op: ATROUS_KERNEL expands to ATROUS_<op>(...), defined
// as the entry for the table's op and as nothing for the others.
#define ATROUS_KERNEL(op, name, isa, fn) ATROUS_##op(name, isa, fn)
#define ATROUS_depthwise_conv2d(name, isa, fn)
#define ATROUS_separable_conv2d(name, isa, fn)
#define ATROUS_conv2d_bf16(name, isa, fn)
#define ATROUS_conv2d_bf16_wino(name, isa, fn)
#define ATROUS_conv2d(name, isa, fn) Conv2dVariant{#name, Isa::isa, &fn##_pack, &fn},
constexpr std::array k_conv2d_variants = {
#include "stages/infer/kernels/kernels.def"
};
#undef ATROUS_conv2d
#undef ATROUS_depthwise_conv2d
#define ATROUS_conv2d(name, isa, fn)
#define ATROUS_depthwise_conv2d(name, isa, fn) DepthwiseVariant{#name, Isa::isa, &fn},
constexpr std::array k_depthwise_variants = {
#include "stages/infer/kernels/kernels.def"
};
#undef ATROUS_depthwise_conv2d
#undef ATROUS_separable_conv2d
#define ATROUS_depthwise_conv2d(name, isa, fn)
#define ATROUS_separable_conv2d(name, isa, fn) SeparableVariant{#name, Isa::isa, &fn##_pack, &fn},
constexpr std::array k_separable_variants = {
#include "stages/infer/kernels/kernels.def"
};
#undef ATROUS_separable_conv2d
#undef ATROUS_conv2d_bf16
#define ATROUS_separable_conv2d(name, isa, fn)
#define ATROUS_conv2d_bf16(name, isa, fn) Conv2dVariant{#name, Isa::isa, &fn##_pack, &fn},
constexpr std::array k_conv2d_bf16_variants = {
#include "stages/infer/kernels/kernels.def"
};
#undef ATROUS_conv2d_bf16
#undef ATROUS_conv2d_bf16_wino
#define ATROUS_conv2d_bf16(name, isa, fn)
#define ATROUS_conv2d_bf16_wino(name, isa, fn) Conv2dVariant{#name, Isa::isa, &fn##_pack, &fn},
constexpr std::array k_conv2d_bf16_wino_variants = {
#include "stages/infer/kernels/kernels.def"
};
#undef ATROUS_conv2d_bf16_wino
#undef ATROUS_conv2d
#undef ATROUS_depthwise_conv2d
#undef ATROUS_separable_conv2d
#undef ATROUS_conv2d_bf16
#undef ATROUS_KERNEL

/// The last entry of `table` the CPU supports (the first one is generic).
template <typename Table> const auto& pick_fastest(const Table& table)
{
    for (auto it = table.rbegin(); it != table.rend(); ++it)
        if (cpu_supports(it->isa))
            return *it;
    return table.front();
}

} // namespace

std::span<const Conv2dVariant> conv2d_bf16_variants()
{
    return k_conv2d_bf16_variants;
}

const Conv2dVariant& conv2d_bf16_fast()
{
    static const Conv2dVariant& chosen = pick_fastest(k_conv2d_bf16_variants); // once
    return chosen;
}

std::span<const Conv2dVariant> conv2d_bf16_wino_variants()
{
    return k_conv2d_bf16_wino_variants;
}

const Conv2dVariant& conv2d_bf16_wino_fast()
{
    static const Conv2dVariant& chosen = pick_fastest(k_conv2d_bf16_wino_variants); // once
    return chosen;
}

std::span<const Conv2dVariant> conv2d_variants()
{
    return k_conv2d_variants;
}

const Conv2dVariant& conv2d_fast()
{
    static const Conv2dVariant& chosen = pick_fastest(k_conv2d_variants); // once per process
    return chosen;
}

std::span<const DepthwiseVariant> depthwise_variants()
{
    return k_depthwise_variants;
}

const DepthwiseVariant& depthwise_fast()
{
    static const DepthwiseVariant& chosen = pick_fastest(k_depthwise_variants);
    return chosen;
}

std::span<const SeparableVariant> separable_variants()
{
    return k_separable_variants;
}

const SeparableVariant& separable_fast()
{
    static const SeparableVariant& chosen = pick_fastest(k_separable_variants);
    return chosen;
}

} // namespace atrous::infer::kernels
