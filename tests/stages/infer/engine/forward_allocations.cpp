// SPDX-License-Identifier: Apache-2.0
// Purpose: atrous_allocation_tests: counts heap allocations (a replaced global operator new, so a
// binary of its own) to show that a steady-state forward pass allocates nothing per layer: only
// the tensor it returns.

#include "stages/infer/engine/model.hpp"
#include "stages/infer/kernels/dispatch.hpp"
#include "tests/support/spec_builder.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <optional>

namespace
{

std::atomic<bool> g_counting{false};
std::atomic<long long> g_allocations{0};

void* counted_malloc(std::size_t bytes)
{
    if (g_counting.load(std::memory_order_relaxed))
        g_allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(bytes == 0 ? 1 : bytes);
}

void* counted_aligned(std::size_t bytes, std::align_val_t alignment)
{
    if (g_counting.load(std::memory_order_relaxed))
        g_allocations.fetch_add(1, std::memory_order_relaxed);
    const std::size_t a = static_cast<std::size_t>(alignment);
    return std::aligned_alloc(a, (bytes + a - 1) / a * a);
}

} // namespace

// Every replaceable form, so that each allocation and its release meet the same allocator
// (malloc/free; sanitizers see those). GCC, inlining these into callers, would take free() of an
// operator new result for a mismatch.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n)
{
    if (void* p = counted_malloc(n))
        return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n)
{
    return operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept
{
    return counted_malloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept
{
    return counted_malloc(n);
}
void* operator new(std::size_t n, std::align_val_t a)
{
    if (void* p = counted_aligned(n, a))
        return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a)
{
    return operator new(n, a);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
    return counted_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
    return counted_aligned(n, a);
}
void operator delete(void* p) noexcept
{
    std::free(p);
}
void operator delete[](void* p) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept
{
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept
{
    std::free(p);
}

namespace atrous::infer
{
namespace
{

ModelSpec unet_spec()
{
    return test::small_unet_spec("alloc_unet", true);
}

/// Allocations made by one forward pass, run on one thread: the kernels' scratch is per thread,
/// and which pool threads a multi-threaded pass happens to touch first varies from run to run, so
/// one thread makes "steady state" exact.
long long allocations_of(const Model& model, const Tensor& input, KernelKind kind)
{
    static oneapi::tbb::task_arena one_thread(1);
    one_thread.initialize();
    std::optional<Tensor> out;
    g_allocations = 0;
    g_counting = true;
    one_thread.execute([&] { out.emplace(model.forward(input, {kind})); });
    g_counting = false;
    EXPECT_EQ(out->shape().c, 1);
    return g_allocations.load();
}

TEST(ForwardAllocations, SteadyStateReferenceForwardAllocatesOnlyItsOutput)
{
    BuildOptions options;
    options.initialize_missing_weights = true;
    const Model model(unet_spec(), options);
    const Tensor input(Shape{1, 16, 16, 2}, 0.5f);
    // The first pass plans and allocates the arena; counted to show the counter counts.
    EXPECT_GT(allocations_of(model, input, KernelKind::reference), 2);
    EXPECT_EQ(allocations_of(model, input, KernelKind::reference), 1); // the returned tensor
    EXPECT_EQ(allocations_of(model, input, KernelKind::reference), 1);
    EXPECT_EQ(model.workspace_stats().arena_allocations, 1);
    // The fast kernels keep their scratch per thread (kernels/avx2/conv2d_winograd.inl).
    allocations_of(model, input, KernelKind::fast);
    EXPECT_EQ(allocations_of(model, input, KernelKind::fast), 1);
}

/// Wide enough (>= 16 channels) for the fast variant's Winograd (3x3 and the 2x2 up-conv) and
/// GEMM (1x1) paths, with their per-thread scratch.
ModelSpec wide_unet_spec()
{
    test::SpecBuilder b("alloc_wide_unet");
    b.input("input", {nullptr, nullptr, nullptr, 1});
    b.conv("c1", "input", 32, 3);
    b.conv("c2", "c1", 32, 3);
    b.add("pool", "MaxPooling2D", {{"pool_size", {2, 2}}}, {"c2"});
    b.conv("c3", "pool", 64, 3, 2);
    b.add("up", "UpSampling2D", {{"size", {2, 2}}}, {"c3"});
    b.conv("c4", "up", 32, 2);
    b.add("cat", "Concatenate", {{"axis", -1}}, {"c2", "c4"});
    b.conv("c5", "cat", 32, 1);
    b.conv("out", "c5", 1, 1, 1, "sigmoid");
    return b.spec();
}

TEST(ForwardAllocations, SteadyStateFastForwardAllocatesOnlyItsOutput)
{
    BuildOptions options;
    options.initialize_missing_weights = true;
    const Model model(wide_unet_spec(), options);
    for (const int size : {16, 256}) // few and many Winograd tile blocks
    {
        const Tensor input(Shape{1, size, size, 1}, 0.25f);
        allocations_of(model, input, KernelKind::fast); // plans the arena, grows the scratch
        EXPECT_EQ(allocations_of(model, input, KernelKind::fast), 1) << size;
        EXPECT_EQ(allocations_of(model, input, KernelKind::fast), 1) << size;
    }
}

TEST(ForwardAllocations, SteadyStateBf16FastForwardAllocatesOnlyItsOutput)
{
    // bf16: the Winograd (c2, the 2x2 c4) and GEMM (c1, the dilated c3, c5) kernels' scratch.
    if (!kernels::cpu_supports(kernels::Isa::avx512_bf16))
        GTEST_SKIP() << "CPU lacks avx512_bf16: the bf16 kernels are the oracles, which allocate";
    BuildOptions options;
    options.initialize_missing_weights = true;
    options.precision = Precision::bf16;
    const Model model(wide_unet_spec(), options);
    for (const int size : {16, 256})
    {
        const Tensor input(Shape{1, size, size, 1}, 0.25f);
        allocations_of(model, input, KernelKind::fast);
        EXPECT_EQ(allocations_of(model, input, KernelKind::fast), 1) << size;
        EXPECT_EQ(allocations_of(model, input, KernelKind::fast), 1) << size;
    }
}

} // namespace
} // namespace atrous::infer
