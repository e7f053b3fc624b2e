// SPDX-License-Identifier: Apache-2.0
// Purpose: the tile dispenser: a local list, or rank 0's request server over point-to-point
// messages (a request: 1 byte, want a tile or interrupted; an answer: one int64, a tile id or
// none_left / stopped).
#include "tile_dispenser.hpp"

#include "stages/error.hpp"

#include <chrono>
#include <cstring>
#include <exception>

namespace atrous
{
namespace
{

constexpr int request_tag = 7401;
constexpr int reply_tag = 7402;
constexpr long long none_left = -1;
constexpr long long stopped = -2;
constexpr std::uint8_t want_tile = 0;
constexpr std::uint8_t interrupt_here = 1;

std::vector<std::uint8_t> encode(long long v)
{
    std::vector<std::uint8_t> bytes(sizeof v);
    std::memcpy(bytes.data(), &v, sizeof v);
    return bytes;
}

long long decode(const Message& m)
{
    long long v = 0;
    if (m.bytes.size() != sizeof v)
        throw Error("tile dispenser", "answer of " + std::to_string(m.bytes.size()) +
                                          " bytes from rank " + std::to_string(m.source) +
                                          ", 8 expected");
    std::memcpy(&v, m.bytes.data(), sizeof v);
    return v;
}

} // namespace

TileDispenser::TileDispenser(std::vector<TileId> tiles, const InterruptWatch& watch,
                             Communicator& comm)
    : m_tiles(std::move(tiles)), m_watch(watch), m_comm(comm), m_rank(comm.rank()),
      m_ranks(comm.size())
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
        const Message request = m_comm.receive(Communicator::any_source, request_tag, 1000);
        const bool interrupt = !request.bytes.empty() && request.bytes[0] == interrupt_here;
        const std::optional<TileId> tile = take_local(interrupt);
        long long reply = none_left;
        if (tile)
            reply = *tile;
        else if (m_interrupted)
            reply = stopped;
        if (reply < 0)
            ++finished;
        m_comm.send(request.source, reply_tag, encode(reply));
    }
}

void TileDispenser::ask(bool interrupt)
{
    m_request_send = m_comm.isend(0, request_tag, {interrupt ? interrupt_here : want_tile});
    m_asked = true;
}

long long TileDispenser::answer()
{
    const auto t0 = std::chrono::steady_clock::now();
    const Message m = m_comm.receive(0, reply_tag, 100);
    m_wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m_asked = false;
    // Answered, so rank 0 received the request: its send completes at once.
    while (m_request_send && !m_request_send->done())
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    m_request_send.reset();
    return decode(m);
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
