// SPDX-License-Identifier: Apache-2.0
// Purpose: the tile dispenser: a local list, or rank 0's request server over MPI point to point.
#include "tile_dispenser.hpp"

#include <mpi.h>

#include <chrono>
#include <exception>

namespace atrous
{
namespace
{

constexpr int request_tag = 7401;
constexpr int reply_tag = 7402;
constexpr long long none_left = -1;
constexpr long long stopped = -2;
constexpr int want_tile = 0;
constexpr int interrupt_here = 1;

} // namespace

TileDispenser::TileDispenser(std::vector<TileId> tiles, const InterruptWatch& watch, int rank,
                             int ranks)
    : m_tiles(std::move(tiles)), m_watch(watch), m_rank(rank), m_ranks(ranks)
{
    if (m_ranks > 1 && m_rank == 0)
        m_server = std::thread([this] { serve(); });
}

TileDispenser::~TileDispenser()
{
    // Unwinding on an error: the other ranks may never ask again; the job is about to abort.
    if (m_server.joinable() && std::uncaught_exceptions() > 0)
        m_server.detach();
    close();
}

void TileDispenser::close()
{
    if (m_server.joinable())
        m_server.join();
}

std::optional<TileId> TileDispenser::take_local(bool interrupt)
{
    std::lock_guard lock(m_mutex);
    if (interrupt)
        m_stopped = true;
    if (m_stopped)
    {
        m_interrupted = true;
        return std::nullopt;
    }
    if (m_next >= m_tiles.size())
        return std::nullopt;
    return m_tiles[m_next++];
}

void TileDispenser::serve()
{
    int finished = 0; // ranks told that nothing is left (or stopped)
    while (finished < m_ranks - 1)
    {
        int message = 0;
        MPI_Request request;
        MPI_Irecv(&message, 1, MPI_INT, MPI_ANY_SOURCE, request_tag, MPI_COMM_WORLD, &request);
        int flag = 0;
        MPI_Status status;
        for (;;)
        {
            MPI_Test(&request, &flag, &status);
            if (flag)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        const std::optional<TileId> tile = take_local(message == interrupt_here);
        long long reply = none_left;
        if (tile)
            reply = *tile;
        else if (m_interrupted)
            reply = stopped;
        if (reply < 0)
            ++finished;
        MPI_Send(&reply, 1, MPI_LONG_LONG, status.MPI_SOURCE, reply_tag, MPI_COMM_WORLD);
    }
}

void TileDispenser::ask(bool interrupt)
{
    const int message = interrupt ? interrupt_here : want_tile;
    MPI_Send(&message, 1, MPI_INT, 0, request_tag, MPI_COMM_WORLD);
    MPI_Irecv(&m_reply, 1, MPI_LONG_LONG, 0, reply_tag, MPI_COMM_WORLD, &m_request);
    m_asked = true;
}

long long TileDispenser::answer()
{
    const auto t0 = std::chrono::steady_clock::now();
    int flag = 0;
    MPI_Test(&m_request, &flag, MPI_STATUS_IGNORE);
    while (!flag)
    {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        MPI_Test(&m_request, &flag, MPI_STATUS_IGNORE);
    }
    m_wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m_asked = false;
    return m_reply;
}

std::optional<TileId> TileDispenser::next()
{
    if (m_finished)
        return std::nullopt;
    const bool interrupt = m_watch.requested();
    std::optional<TileId> tile;
    if (m_ranks <= 1 || m_rank == 0)
    {
        tile = take_local(interrupt);
    }
    else
    {
        if (!m_asked)
            ask(interrupt);
        long long reply = answer();
        if (interrupt && reply >= 0)
        {
            // Prefetched before the signal and not started: leave it to the resumed run and
            // tell rank 0 to stop.
            ask(true);
            reply = answer();
        }
        if (reply >= 0)
        {
            tile = reply;
            ask(false); // the next tile's request travels while this one is computed
        }
        else if (reply == stopped)
        {
            m_interrupted = true;
        }
    }
    if (!tile)
        m_finished = true;
    else
        ++m_taken;
    return tile;
}

} // namespace atrous
