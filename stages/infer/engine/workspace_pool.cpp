// SPDX-License-Identifier: Apache-2.0
// Purpose: WorkspacePool: plan cache, arena leasing and view binding.

#include "workspace_pool.hpp"

#include "graph.hpp"

#include <algorithm>
#include <limits>
#include <new>

namespace atrous::infer
{

void Workspace::FreeAligned::operator()(float* p) const noexcept
{
    ::operator delete (p, std::align_val_t{k_arena_alignment});
}

WorkspacePool::Lease::~Lease()
{
    if (m_workspace)
        m_pool->release(std::move(m_workspace));
}

std::shared_ptr<const ActivationPlan> WorkspacePool::plan_locked(const Graph& graph,
                                                                 const Shape& input)
{
    for (auto it = m_plans.begin(); it != m_plans.end(); ++it)
        if ((*it)->input == input)
        {
            std::shared_ptr<const ActivationPlan> found = *it;
            if (it + 1 != m_plans.end()) // most recently used last
            {
                m_plans.erase(it);
                m_plans.push_back(found);
            }
            return found;
        }
    auto made = std::make_shared<const ActivationPlan>(
        plan_activations(graph, input, graph.plan_options()));
    if (m_plans.size() >= k_max_plans)
        m_plans.erase(m_plans.begin());
    m_plans.push_back(made);
    ++m_stats.plans;
    return made;
}

std::shared_ptr<const ActivationPlan> WorkspacePool::plan(const Graph& graph, const Shape& input)
{
    const std::lock_guard<std::mutex> lock(m_mutex);
    return plan_locked(graph, input);
}

WorkspacePool::Lease WorkspacePool::acquire(const Graph& graph, const Shape& input)
{
    std::shared_ptr<const ActivationPlan> plan;
    std::unique_ptr<Workspace> workspace;
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        plan = plan_locked(graph, input);
        ++m_stats.forwards;
        // Prefer an idle workspace bound to this plan, then the smallest arena that holds it,
        // then the largest (grown below).
        auto pick = m_idle.end();
        for (auto it = m_idle.begin(); it != m_idle.end(); ++it)
        {
            const Workspace& w = **it;
            if (w.plan == plan)
            {
                pick = it;
                break;
            }
            if (pick == m_idle.end())
            {
                pick = it;
                continue;
            }
            const bool fits = w.capacity >= plan->arena_bytes;
            const bool pick_fits = (*pick)->capacity >= plan->arena_bytes;
            if ((fits && (!pick_fits || w.capacity < (*pick)->capacity)) ||
                (!fits && !pick_fits && w.capacity > (*pick)->capacity))
                pick = it;
        }
        if (pick != m_idle.end())
        {
            workspace = std::move(*pick);
            m_idle.erase(pick);
        }
        else
        {
            workspace = std::make_unique<Workspace>();
            ++m_stats.workspaces;
        }
    }
    Lease lease(*this, std::move(workspace));
    bind(lease.workspace(), plan, graph);
    return lease;
}

void WorkspacePool::bind(Workspace& w, const std::shared_ptr<const ActivationPlan>& plan,
                         const Graph& graph)
{
    if (w.plan == plan)
        return;
    if (w.capacity < plan->arena_bytes)
    {
        const std::size_t old_capacity = w.capacity;
        w.plan.reset();
        w.arena.reset();
        w.capacity = 0;
        const std::size_t floats = plan->arena_bytes / sizeof(float);
        w.arena.reset(static_cast<float*>(
            ::operator new (plan->arena_bytes, std::align_val_t{k_arena_alignment})));
        // NaN, not zeros: a layer that read its output before writing it would show in every
        // test (and the pages are touched once here, not in the first timed layer).
        std::fill_n(w.arena.get(), floats, std::numeric_limits<float>::quiet_NaN());
        w.capacity = plan->arena_bytes;
        const std::lock_guard<std::mutex> lock(m_mutex);
        ++m_stats.arena_allocations;
        m_stats.bytes_held += w.capacity - old_capacity;
    }
    const std::vector<Node>& nodes = graph.nodes();
    w.views.resize(nodes.size());
    w.args.resize(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i)
    {
        const Placement& p = plan->placements[i];
        if (p.storage == Storage::arena)
        {
            float* base = w.arena.get() + plan->blocks[p.block].offset / sizeof(float);
            w.views[i] = Tensor::view(plan->shapes[i], base + p.offset, p.pixel_stride);
        }
        else
            w.views[i] = Tensor(); // bound per call to the caller's input / the new output
        w.args[i].clear();
        for (int in : nodes[i].inputs)
            w.args[i].push_back(&w.views[in]);
    }
    w.plan = plan;
}

void WorkspacePool::release(std::unique_ptr<Workspace> workspace)
{
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_idle.push_back(std::move(workspace));
}

WorkspaceStats WorkspacePool::stats() const
{
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_stats;
}

} // namespace atrous::infer
