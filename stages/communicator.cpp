// SPDX-License-Identifier: Apache-2.0
// Purpose: Communicator's helpers over its primitives, and the one-process communicator.
#include "communicator.hpp"

#include "stages/error.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace atrous
{

void Communicator::send(int dest, int tag, std::vector<std::uint8_t> bytes)
{
    const std::unique_ptr<SendHandle> h = isend(dest, tag, std::move(bytes));
    while (!h->done())
        std::this_thread::sleep_for(std::chrono::microseconds(50));
}

Message Communicator::receive(int source, int tag, int poll_us)
{
    for (;;)
    {
        if (std::optional<Message> m = try_receive(source, tag))
            return std::move(*m);
        std::this_thread::sleep_for(std::chrono::microseconds(poll_us));
    }
}

long long Communicator::sum(long long value)
{
    sum(std::span<long long>(&value, 1));
    return value;
}

bool Communicator::any(bool value)
{
    std::uint8_t v = value ? 1 : 0;
    max(std::span<std::uint8_t>(&v, 1));
    return v != 0;
}

std::unique_ptr<SendHandle> SoloCommunicator::isend(int dest, int tag, std::vector<std::uint8_t>)
{
    throw Error("mpi", "send to rank " + std::to_string(dest) + " (tag " + std::to_string(tag) +
                           ") in a one-process run");
}

std::optional<Message> SoloCommunicator::try_receive(int, int)
{
    return std::nullopt;
}

std::vector<double> SoloCommunicator::gather(std::span<const double> values, int)
{
    return {values.begin(), values.end()};
}

} // namespace atrous
