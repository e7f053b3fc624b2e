// SPDX-License-Identifier: Apache-2.0
// Purpose: what the run needs from its ranks (point-to-point messages, a few collectives),
// independent of MPI, so the tile dispenser and the blend exchange are tested in one process
// (InProcessWorld: N threads as N ranks) and run over MPI in production (MpiCommunicator).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace atrous
{

/// One received message.
struct Message
{
    int source = -1;
    std::vector<std::uint8_t> bytes;
};

/// A send in flight; the communicator owns the bytes until done() says so.
class SendHandle
{
public:
    virtual ~SendHandle() = default;
    /// Non-blocking: true once the bytes left this rank (the handle may then be dropped).
    virtual bool done() = 0;
};

/// The ranks of one run. Point-to-point calls are thread-safe; messages from one source with one
/// tag arrive in the order they were sent (MPI's non-overtaking rule). Collectives are called by
/// every rank in the same order, from one thread per rank. Errors throw atrous::Error("mpi", ...).
class Communicator
{
public:
    static constexpr int any_source = -1;

    virtual ~Communicator() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;

    /// Starts sending `bytes` (possibly empty) to rank `dest` with `tag`.
    virtual std::unique_ptr<SendHandle> isend(int dest, int tag,
                                              std::vector<std::uint8_t> bytes) = 0;
    /// The next message with `tag` from `source` (or any_source) if one has arrived; never blocks.
    virtual std::optional<Message> try_receive(int source, int tag) = 0;

    /// In place over every rank, reduced in rank order (deterministic).
    virtual void sum(std::span<long long> values) = 0;
    virtual void max(std::span<std::uint8_t> values) = 0;
    virtual void min(std::span<int> values) = 0;
    /// Root's bytes to every rank (same size everywhere).
    virtual void broadcast(std::span<std::uint8_t> bytes, int root) = 0;
    /// Every rank's `values` (same count everywhere) concatenated in rank order, on `root`; the
    /// other ranks get an empty vector.
    virtual std::vector<double> gather(std::span<const double> values, int root) = 0;
    virtual void barrier() = 0;

    /// Helpers over the primitives.
    /// Sends and waits (polling, sleeping between polls, so a waiting thread does not spin).
    void send(int dest, int tag, std::vector<std::uint8_t> bytes);
    /// Waits for the next message with `tag` from `source`, polling every `poll_us` microseconds.
    Message receive(int source, int tag, int poll_us = 100);
    long long sum(long long value);
    bool any(bool value);
};

/// One process alone: rank 0 of 1. Point to point has nobody to talk to (throws); collectives
/// return their input.
class SoloCommunicator final : public Communicator
{
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::unique_ptr<SendHandle> isend(int dest, int tag, std::vector<std::uint8_t> bytes) override;
    std::optional<Message> try_receive(int source, int tag) override;
    void sum(std::span<long long>) override {}
    void max(std::span<std::uint8_t>) override {}
    void min(std::span<int>) override {}
    void broadcast(std::span<std::uint8_t>, int) override {}
    std::vector<double> gather(std::span<const double> values, int root) override;
    void barrier() override {}
    using Communicator::sum;
};

} // namespace atrous
