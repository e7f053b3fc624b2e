// SPDX-License-Identifier: Apache-2.0
// Purpose: hands out the tiles still to do, one at a time, to this process or (MPI) to whichever
// rank asks next, so ranks stay busy when tiles cost differently.
#pragma once

#include "pipeline/run/interrupt_watch.hpp"
#include "stages/communicator.hpp"
#include "stages/tile.hpp"

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace atrous
{

/// One process: the list in order. Several ranks: rank 0 owns the list and serves requests on a
/// thread of its own (a receive polled every 1 ms: a blocking receive would spin a core);
/// every rank's next() asks it (rank 0 takes from the list directly). The other ranks keep one
/// request in flight: next() returns the tile received for the previous request and asks for the
/// following one at once, so the round trip to rank 0 (up to a poll period plus the time the
/// server thread waits to be scheduled on a loaded node) overlaps the tile's computation instead
/// of stalling a rank with one thread before every tile (wait_seconds() measures what is left:
/// ~0.01-0.03 s per run in bench/scale.sh). A signal on any rank stops the dispensing on every
/// rank: the signalled rank drops the tile it had prefetched (not started; the resumed run
/// computes it) and tells rank 0, which answers "stopped" from then on. next() is called from one
/// thread at a time (the pipeline's serial input filter).
class TileDispenser
{
public:
    /// `comm` (the run's ranks) must outlive the dispenser.
    TileDispenser(std::vector<TileId> tiles, const InterruptWatch& watch, Communicator& comm);
    /// Rank 0: waits until every other rank was told that nothing is left, then joins the
    /// server thread.
    ~TileDispenser();
    TileDispenser(const TileDispenser&) = delete;
    TileDispenser& operator=(const TileDispenser&) = delete;

    /// The next tile for this rank; empty when none is left or the run was interrupted.
    std::optional<TileId> next();
    /// The dispensing stopped because of a signal (here or, with MPI, on any rank).
    bool interrupted() const { return m_interrupted.load(); }
    /// Tiles this rank took.
    long long taken() const { return m_taken; }
    /// Seconds next() spent waiting for rank 0's answer (0 on rank 0 and in one process).
    double wait_seconds() const { return m_wait_seconds; }
    /// Rank 0: waits for the server thread (every rank heard "nothing left"). Idempotent.
    void close();

private:
    std::optional<TileId> take_local(bool interrupt);
    void serve();
    /// Ranks other than 0: sends a request and posts the receive of its answer.
    void ask(bool interrupt);
    /// Waits for the answer of the request in flight (polled, not a spinning wait).
    long long answer();

    std::vector<TileId> m_tiles;
    const InterruptWatch& m_watch;
    Communicator& m_comm;
    int m_rank;
    int m_ranks;
    std::mutex m_mutex; // m_next, m_stopped (rank 0)
    std::size_t m_next = 0;
    bool m_stopped = false;  // rank 0: a signal arrived somewhere
    bool m_finished = false; // this rank got its last answer
    std::atomic<bool> m_interrupted{false};
    long long m_taken = 0;
    double m_wait_seconds = 0;
    bool m_asked = false;                       // a request is in flight (ranks other than 0)
    std::unique_ptr<SendHandle> m_request_send; // the request in flight, while it travels
    std::thread m_server;
};

} // namespace atrous
