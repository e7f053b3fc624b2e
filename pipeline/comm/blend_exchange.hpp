// SPDX-License-Identifier: Apache-2.0
// Purpose: stitch.blend over MPI ranks: sends each share of a tile's prediction to the rank that
// owns its core and feeds the shares other ranks send here to this rank's stitcher.
#pragma once

#include "stages/communicator.hpp"
#include "stages/stitch/blend_stitcher.hpp"

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace atrous
{

/// One per rank while the tiles run (several ranks only). send() posts non-blocking sends (called
/// from the pipeline's serial stitch filter); a receiver thread polls for shares (every 1 ms when
/// idle), hands them to BlendStitcher::accept() and passes completed cores to
/// `deliver` (the writer; called from the receiver thread, so it must be thread-safe). finish():
/// waits for this rank's sends, tells every other rank "no more from me" (a message after the
/// shares on the same tag: messages keep their order), and returns once every other rank said the
/// same, so every share sent anywhere has been accepted. An error on the receiver thread is
/// rethrown by the next send() or by finish().
class BlendExchange
{
public:
    using Deliver = std::function<void(std::vector<OutputBlock>&&)>;

    /// `comm` (the run's ranks) must outlive the exchange.
    BlendExchange(BlendStitcher& stitcher, Deliver deliver, Communicator& comm);
    /// Unwinding on an error: the receiver thread is left (the job is about to abort).
    ~BlendExchange();
    BlendExchange(const BlendExchange&) = delete;
    BlendExchange& operator=(const BlendExchange&) = delete;

    void send(std::vector<BlendShare>&& shares);
    /// Collective in effect (every rank calls it once after its pipeline). Idempotent.
    void finish();

    /// Shares and bytes sent and received by this rank.
    long long shares_sent() const { return m_sent; }
    long long shares_received() const { return m_received.load(); }
    long long bytes_sent() const { return m_bytes_sent; }

    /// Wire format of a share (exposed for the tests): 8 little-endian int64 (target, source,
    /// x, y, width, height, channels, empty), then C x h x w float32, then h x w bytes of valid.
    static std::vector<std::uint8_t> pack(const BlendShare& share);
    /// Throws atrous::Error when the bytes are not a share.
    static BlendShare unpack(const std::vector<std::uint8_t>& bytes);

private:
    void receive();
    void rethrow_receiver_error();
    void reap(bool wait_all);

    BlendStitcher& m_stitcher;
    Deliver m_deliver;
    Communicator& m_comm;
    int m_rank;
    int m_ranks;
    std::vector<std::unique_ptr<SendHandle>> m_pending; // sends in flight (pipeline thread only)
    long long m_sent = 0;
    long long m_bytes_sent = 0;
    std::atomic<long long> m_received{0};
    std::thread m_receiver;
    std::mutex m_error_mutex;
    std::exception_ptr m_error;
    std::atomic<bool> m_failed{false};
    bool m_finished = false;
};

} // namespace atrous
