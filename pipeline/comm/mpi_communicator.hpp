// SPDX-License-Identifier: Apache-2.0
// Purpose: the Communicator over MPI (a duplicate of MPI_COMM_WORLD, so atrous' messages never
// meet another library's), every return code checked.
#pragma once

#include "stages/communicator.hpp"

#include <mpi.h>

namespace atrous
{

class MpiCommunicator final : public Communicator
{
public:
    /// Collective over MPI_COMM_WORLD (MPI_Comm_dup); MPI must be initialized.
    MpiCommunicator();
    /// Frees the duplicate unless MPI was finalized.
    ~MpiCommunicator() override;
    MpiCommunicator(const MpiCommunicator&) = delete;
    MpiCommunicator& operator=(const MpiCommunicator&) = delete;

    int rank() const override { return m_rank; }
    int size() const override { return m_size; }
    std::unique_ptr<SendHandle> isend(int dest, int tag, std::vector<std::uint8_t> bytes) override;
    std::optional<Message> try_receive(int source, int tag) override;
    void sum(std::span<long long> values) override;
    void max(std::span<std::uint8_t> values) override;
    void min(std::span<int> values) override;
    void broadcast(std::span<std::uint8_t> bytes, int root) override;
    std::vector<double> gather(std::span<const double> values, int root) override;
    void barrier() override;
    using Communicator::sum;

private:
    MPI_Comm m_comm = MPI_COMM_NULL;
    int m_rank = 0;
    int m_size = 1;
};

/// Throws Error("mpi", "<call>: <MPI's error string>") unless rc is MPI_SUCCESS.
void check_mpi(int rc, const char* call);

} // namespace atrous
