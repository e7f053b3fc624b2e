// SPDX-License-Identifier: Apache-2.0
// Purpose: N threads of one process as N ranks (mailboxes and a barrier in shared memory), so the
// code that talks between ranks gets fast C++ tests with 1, 2 or 4 "ranks".
#pragma once

#include "stages/communicator.hpp"

#include <functional>
#include <memory>

namespace atrous
{

class InProcessWorld
{
public:
    explicit InProcessWorld(int ranks);
    ~InProcessWorld();
    InProcessWorld(const InProcessWorld&) = delete;
    InProcessWorld& operator=(const InProcessWorld&) = delete;

    int size() const;
    /// Rank r's communicator; lives as long as the world.
    Communicator& rank(int r);

    /// Runs body(rank r's communicator) on `ranks` threads and joins them; rethrows the first
    /// exception a rank threw (the others must not wait for it forever: bodies that can fail
    /// should fail on every rank, as MPI programs must).
    static void run(int ranks, const std::function<void(Communicator&)>& body);

private:
    struct Shared;
    class Rank;
    std::shared_ptr<Shared> m_shared;
    std::vector<std::unique_ptr<Rank>> m_ranks;
};

} // namespace atrous
