// SPDX-License-Identifier: Apache-2.0
// Purpose: InProcessWorld: a mailbox per rank (FIFO, matched by source and tag) and collectives
// through slots and a std::barrier.
#include "in_process.hpp"

#include "stages/error.hpp"

#include <algorithm>
#include <barrier>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

namespace atrous
{

struct InProcessWorld::Shared
{
    struct Envelope
    {
        int source;
        int tag;
        std::vector<std::uint8_t> bytes;
    };
    struct Mailbox
    {
        std::mutex mutex;
        std::deque<Envelope> queue;
    };

    explicit Shared(int n)
        : ranks(n), mailboxes(static_cast<std::size_t>(n)), slots(static_cast<std::size_t>(n)),
          sync(n)
    {
    }
    int ranks;
    std::vector<Mailbox> mailboxes;
    std::vector<std::vector<std::uint8_t>> slots; // collectives: one contribution per rank
    std::barrier<> sync;
};

namespace
{

class Delivered final : public SendHandle
{
public:
    bool done() override { return true; }
};

} // namespace

class InProcessWorld::Rank final : public Communicator
{
public:
    Rank(std::shared_ptr<Shared> shared, int rank) : m_shared(std::move(shared)), m_rank(rank) {}

    int rank() const override { return m_rank; }
    int size() const override { return m_shared->ranks; }

    std::unique_ptr<SendHandle> isend(int dest, int tag, std::vector<std::uint8_t> bytes) override
    {
        if (dest < 0 || dest >= size())
            throw Error("mpi",
                        "send to rank " + std::to_string(dest) + " of " + std::to_string(size()));
        Shared::Mailbox& box = m_shared->mailboxes[static_cast<std::size_t>(dest)];
        std::lock_guard lock(box.mutex);
        box.queue.push_back({m_rank, tag, std::move(bytes)});
        return std::make_unique<Delivered>();
    }

    std::optional<Message> try_receive(int source, int tag) override
    {
        Shared::Mailbox& box = m_shared->mailboxes[static_cast<std::size_t>(m_rank)];
        std::lock_guard lock(box.mutex);
        // The first match in arrival order: per source and tag, the order of sending.
        const auto it =
            std::find_if(box.queue.begin(), box.queue.end(),
                         [&](const Shared::Envelope& e)
                         { return e.tag == tag && (source == any_source || e.source == source); });
        if (it == box.queue.end())
            return std::nullopt;
        Message m{it->source, std::move(it->bytes)};
        box.queue.erase(it);
        return m;
    }

    void sum(std::span<long long> values) override
    {
        reduce(values, [](long long a, long long b) { return a + b; });
    }
    void max(std::span<std::uint8_t> values) override
    {
        reduce(values, [](std::uint8_t a, std::uint8_t b) { return std::max(a, b); });
    }
    void min(std::span<int> values) override
    {
        reduce(values, [](int a, int b) { return std::min(a, b); });
    }

    void broadcast(std::span<std::uint8_t> bytes, int root) override
    {
        if (m_rank == root)
            contribute(bytes.data(), bytes.size());
        m_shared->sync.arrive_and_wait();
        if (m_rank != root)
        {
            const auto& from = m_shared->slots[static_cast<std::size_t>(root)];
            if (from.size() != bytes.size())
                throw Error("mpi", "broadcast of " + std::to_string(bytes.size()) +
                                       " bytes, the root sent " + std::to_string(from.size()));
            std::memcpy(bytes.data(), from.data(), bytes.size());
        }
        m_shared->sync.arrive_and_wait();
    }

    std::vector<double> gather(std::span<const double> values, int root) override
    {
        contribute(values.data(), values.size_bytes());
        m_shared->sync.arrive_and_wait();
        std::vector<double> out;
        if (m_rank == root)
        {
            for (const auto& slot : m_shared->slots)
            {
                const auto* d = reinterpret_cast<const double*>(slot.data());
                out.insert(out.end(), d, d + slot.size() / sizeof(double));
            }
        }
        m_shared->sync.arrive_and_wait();
        return out;
    }

    void barrier() override { m_shared->sync.arrive_and_wait(); }

private:
    void contribute(const void* data, std::size_t bytes)
    {
        auto& slot = m_shared->slots[static_cast<std::size_t>(m_rank)];
        slot.resize(bytes);
        if (bytes > 0)
            std::memcpy(slot.data(), data, bytes);
    }

    template <typename T, typename Op> void reduce(std::span<T> values, Op op)
    {
        contribute(values.data(), values.size_bytes());
        m_shared->sync.arrive_and_wait();
        for (std::size_t i = 0; i < values.size(); ++i)
        {
            T acc{};
            for (int r = 0; r < size(); ++r)
            {
                const auto& slot = m_shared->slots[static_cast<std::size_t>(r)];
                if (slot.size() != values.size_bytes())
                    throw Error("mpi", "reduction of " + std::to_string(values.size()) +
                                           " values, rank " + std::to_string(r) + " gave " +
                                           std::to_string(slot.size() / sizeof(T)));
                T v;
                std::memcpy(&v, slot.data() + i * sizeof(T), sizeof(T));
                acc = r == 0 ? v : op(acc, v);
            }
            values[i] = acc;
        }
        m_shared->sync.arrive_and_wait();
    }

    std::shared_ptr<Shared> m_shared;
    int m_rank;
};

InProcessWorld::InProcessWorld(int ranks) : m_shared(std::make_shared<Shared>(ranks))
{
    if (ranks < 1)
        throw Error("mpi", "an in-process world needs at least 1 rank, " + std::to_string(ranks) +
                               " asked");
    for (int r = 0; r < ranks; ++r)
        m_ranks.push_back(std::make_unique<Rank>(m_shared, r));
}

InProcessWorld::~InProcessWorld() = default;

int InProcessWorld::size() const
{
    return m_shared->ranks;
}

Communicator& InProcessWorld::rank(int r)
{
    return *m_ranks.at(static_cast<std::size_t>(r));
}

void InProcessWorld::run(int ranks, const std::function<void(Communicator&)>& body)
{
    InProcessWorld world(ranks);
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(ranks));
    std::vector<std::thread> threads;
    for (int r = 0; r < ranks; ++r)
    {
        threads.emplace_back(
            [&, r]
            {
                try
                {
                    body(world.rank(r));
                }
                catch (...)
                {
                    errors[static_cast<std::size_t>(r)] = std::current_exception();
                }
            });
    }
    for (auto& t : threads)
        t.join();
    for (const auto& e : errors)
    {
        if (e)
            std::rethrow_exception(e);
    }
}

} // namespace atrous
