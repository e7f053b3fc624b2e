// SPDX-License-Identifier: Apache-2.0
// Purpose: the activation arenas of concurrent forward passes: plans cached per input shape,
// arena buffers leased one per call and kept for the next, views into them bound once.
#pragma once

#include "stages/infer/engine/activation_plan.hpp"
#include "stages/infer/engine/model.hpp"
#include "stages/infer/engine/tensor.hpp"

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace atrous::infer
{

class Graph;

/// One forward pass's memory: the arena and a view per node bound to the plan's placements
/// (views of the input and output storage are rebound by each call).
struct Workspace
{
    struct FreeAligned
    {
        void operator()(float* p) const noexcept;
    };

    std::shared_ptr<const ActivationPlan> plan; // the plan `views` are bound to
    std::unique_ptr<float[], FreeAligned> arena;
    std::size_t capacity = 0;                     // bytes
    std::vector<Tensor> views;                    // per node
    std::vector<std::vector<const Tensor*>> args; // per node: its inputs' views
};

/// Thread-safe. A Lease hands one Workspace to one forward pass and returns it on destruction.
class WorkspacePool
{
public:
    WorkspacePool() = default;
    WorkspacePool(const WorkspacePool&) = delete;
    WorkspacePool& operator=(const WorkspacePool&) = delete;

    class Lease
    {
    public:
        Lease(WorkspacePool& pool, std::unique_ptr<Workspace> workspace)
            : m_pool(&pool), m_workspace(std::move(workspace))
        {
        }
        ~Lease();
        Lease(Lease&& other) noexcept
            : m_pool(other.m_pool), m_workspace(std::move(other.m_workspace))
        {
        }
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

        Workspace& workspace() { return *m_workspace; }

    private:
        WorkspacePool* m_pool;
        std::unique_ptr<Workspace> m_workspace;
    };

    /// A workspace with `graph`'s plan for `input` bound: an idle one already bound to it if
    /// any, else an idle one (its arena grown when too small), else a new one. Throws
    /// ModelError when the graph does not accept `input`.
    Lease acquire(const Graph& graph, const Shape& input);

    /// The cached plan of `graph` for `input` (made on first use).
    std::shared_ptr<const ActivationPlan> plan(const Graph& graph, const Shape& input);

    WorkspaceStats stats() const;

private:
    /// Plans kept (most recently used last); older ones are dropped beyond this.
    static constexpr std::size_t k_max_plans = 16;

    std::shared_ptr<const ActivationPlan> plan_locked(const Graph& graph, const Shape& input);
    void release(std::unique_ptr<Workspace> workspace);
    /// Sizes the arena for `plan` and binds the views (no-op when already bound).
    void bind(Workspace& workspace, const std::shared_ptr<const ActivationPlan>& plan,
              const Graph& graph);

    mutable std::mutex m_mutex;
    std::vector<std::shared_ptr<const ActivationPlan>> m_plans;
    std::vector<std::unique_ptr<Workspace>> m_idle;
    WorkspaceStats m_stats;
};

} // namespace atrous::infer
