// SPDX-License-Identifier: Apache-2.0
// Purpose: BlendExchange: non-blocking sends of packed shares, a receiver thread polling for
// them, an end marker per rank pair.
#include "blend_exchange.hpp"

#include "stages/error.hpp"

#include <chrono>
#include <cstring>

namespace atrous
{
namespace
{

constexpr int share_tag = 7403; // shares and, as an empty message, "no more from me"
constexpr std::size_t header_values = 8;

} // namespace

std::vector<std::uint8_t> BlendExchange::pack(const BlendShare& s)
{
    const std::int64_t header[header_values] = {s.target,   s.source,       s.region.x,
                                                s.region.y, s.region.width, s.region.height,
                                                s.channels, s.empty ? 1 : 0};
    const std::size_t floats = s.probabilities.size() * sizeof(float);
    std::vector<std::uint8_t> out(sizeof(header) + floats + s.valid.size());
    std::memcpy(out.data(), header, sizeof(header));
    if (floats > 0)
        std::memcpy(out.data() + sizeof(header), s.probabilities.data(), floats);
    if (!s.valid.empty())
        std::memcpy(out.data() + sizeof(header) + floats, s.valid.data(), s.valid.size());
    return out;
}

BlendShare BlendExchange::unpack(const std::vector<std::uint8_t>& bytes)
{
    std::int64_t header[header_values] = {};
    if (bytes.size() < sizeof(header))
        throw Error("blend exchange", "message of " + std::to_string(bytes.size()) +
                                          " bytes, a share has at least " +
                                          std::to_string(sizeof(header)));
    std::memcpy(header, bytes.data(), sizeof(header));
    BlendShare s;
    s.target = header[0];
    s.source = header[1];
    s.region = {static_cast<int>(header[2]), static_cast<int>(header[3]),
                static_cast<int>(header[4]), static_cast<int>(header[5])};
    s.channels = static_cast<int>(header[6]);
    s.empty = header[7] != 0;
    if (s.region.width < 0 || s.region.height < 0 || s.channels <= 0)
        throw Error("blend exchange", "bad share header");
    const std::size_t plane =
        static_cast<std::size_t>(s.region.width) * static_cast<std::size_t>(s.region.height);
    const std::size_t want =
        sizeof(header) + (s.empty ? 0 : plane * (static_cast<std::size_t>(s.channels) * 4 + 1));
    if (bytes.size() != want)
        throw Error("blend exchange", "share of " + std::to_string(bytes.size()) + " bytes, " +
                                          std::to_string(want) + " expected");
    if (!s.empty)
    {
        s.probabilities.resize(plane * static_cast<std::size_t>(s.channels));
        std::memcpy(s.probabilities.data(), bytes.data() + sizeof(header),
                    s.probabilities.size() * sizeof(float));
        s.valid.assign(bytes.end() - static_cast<std::ptrdiff_t>(plane), bytes.end());
    }
    return s;
}

BlendExchange::BlendExchange(BlendStitcher& stitcher, Deliver deliver, Communicator& comm)
    : m_stitcher(stitcher), m_deliver(std::move(deliver)), m_comm(comm), m_rank(comm.rank()),
      m_ranks(comm.size())
{
    if (m_ranks > 1)
        m_receiver = std::thread([this] { receive(); });
}

BlendExchange::~BlendExchange()
{
    if (m_receiver.joinable())
    {
        if (std::uncaught_exceptions() > 0)
            m_receiver.detach();
        else
            finish();
    }
}

void BlendExchange::rethrow_receiver_error()
{
    if (!m_failed.load())
        return;
    std::lock_guard lock(m_error_mutex);
    if (m_error)
        std::rethrow_exception(m_error);
}

void BlendExchange::reap(bool wait_all)
{
    for (auto it = m_pending.begin(); it != m_pending.end();)
    {
        bool flag = (*it)->done();
        if (wait_all)
        {
            // Polled, not a blocking wait: that spins a core the receiver thread needs.
            while (!flag && !m_failed.load())
            {
                std::this_thread::sleep_for(std::chrono::microseconds(200));
                flag = (*it)->done();
            }
            rethrow_receiver_error();
        }
        it = flag ? m_pending.erase(it) : std::next(it);
    }
}

void BlendExchange::send(std::vector<BlendShare>&& shares)
{
    rethrow_receiver_error();
    for (const BlendShare& s : shares)
    {
        std::vector<std::uint8_t> bytes = pack(s);
        m_bytes_sent += static_cast<long long>(bytes.size());
        m_pending.push_back(m_comm.isend(m_stitcher.owner(s.target), share_tag, std::move(bytes)));
        ++m_sent;
    }
    reap(false);
}

void BlendExchange::finish()
{
    if (m_finished || m_ranks <= 1)
        return;
    m_finished = true;
    reap(true);
    for (int r = 0; r < m_ranks; ++r)
    {
        if (r != m_rank)
            m_comm.send(r, share_tag, {});
    }
    m_receiver.join();
    rethrow_receiver_error();
}

void BlendExchange::receive()
{
    int ended = 0; // ranks that said "no more from me"
    try
    {
        while (ended < m_ranks - 1)
        {
            const Message m = m_comm.receive(Communicator::any_source, share_tag, 1000);
            if (m.bytes.empty())
            {
                ++ended;
                continue;
            }
            m_received.fetch_add(1);
            std::vector<OutputBlock> blocks = m_stitcher.accept(unpack(m.bytes));
            if (!blocks.empty())
                m_deliver(std::move(blocks));
        }
    }
    catch (...)
    {
        std::lock_guard lock(m_error_mutex);
        m_error = std::current_exception();
        m_failed.store(true);
    }
}

} // namespace atrous
