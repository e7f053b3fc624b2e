// SPDX-License-Identifier: Apache-2.0
// Purpose: MpiCommunicator: MPI_Isend / MPI_Improbe + MPI_Mrecv, MPI_Allreduce, MPI_Bcast,
// MPI_Gather, MPI_Barrier on a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN.
#include "mpi_communicator.hpp"

#include "stages/error.hpp"

#include <climits>
#include <string>

namespace atrous
{

void check_mpi(int rc, const char* call)
{
    if (rc == MPI_SUCCESS)
        return;
    char text[MPI_MAX_ERROR_STRING] = {};
    int length = 0;
    if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS)
        length = 0;
    throw Error("mpi", std::string(call) + ": " +
                           (length > 0 ? std::string(text, static_cast<std::size_t>(length))
                                       : "error " + std::to_string(rc)));
}

namespace
{

int count_of(std::size_t n, const char* call)
{
    if (n > static_cast<std::size_t>(INT_MAX))
        throw Error("mpi", std::string(call) + ": " + std::to_string(n) +
                               " elements, more than one MPI message holds");
    return static_cast<int>(n);
}

class MpiSend final : public SendHandle
{
public:
    MpiSend(std::vector<std::uint8_t> bytes, MPI_Comm comm, int dest, int tag)
        : m_bytes(std::move(bytes))
    {
        check_mpi(MPI_Isend(m_bytes.data(), count_of(m_bytes.size(), "MPI_Isend"), MPI_BYTE, dest,
                            tag, comm, &m_request),
                  "MPI_Isend");
    }
    ~MpiSend() override
    {
        // Dropped before completion (an error unwinds): cancel, then wait (local once cancelled),
        // so the bytes outlive the request.
        if (m_request != MPI_REQUEST_NULL && !done())
        {
            MPI_Cancel(&m_request);
            MPI_Wait(&m_request, MPI_STATUS_IGNORE);
        }
    }
    bool done() override
    {
        if (m_request == MPI_REQUEST_NULL)
            return true;
        int flag = 0;
        // Not check_mpi: done() also runs in the destructor, which must not throw.
        if (MPI_Test(&m_request, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return false;
        return flag != 0;
    }

private:
    std::vector<std::uint8_t> m_bytes;
    MPI_Request m_request = MPI_REQUEST_NULL;
};

} // namespace

MpiCommunicator::MpiCommunicator()
{
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &m_comm), "MPI_Comm_dup");
    check_mpi(MPI_Comm_set_errhandler(m_comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check_mpi(MPI_Comm_rank(m_comm, &m_rank), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(m_comm, &m_size), "MPI_Comm_size");
}

MpiCommunicator::~MpiCommunicator()
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && m_comm != MPI_COMM_NULL)
        MPI_Comm_free(&m_comm);
}

std::unique_ptr<SendHandle> MpiCommunicator::isend(int dest, int tag,
                                                   std::vector<std::uint8_t> bytes)
{
    return std::make_unique<MpiSend>(std::move(bytes), m_comm, dest, tag);
}

std::optional<Message> MpiCommunicator::try_receive(int source, int tag)
{
    int flag = 0;
    MPI_Message message;
    MPI_Status status;
    check_mpi(MPI_Improbe(source == any_source ? MPI_ANY_SOURCE : source, tag, m_comm, &flag,
                          &message, &status),
              "MPI_Improbe");
    if (!flag)
        return std::nullopt;
    int count = 0;
    check_mpi(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
    Message m;
    m.source = status.MPI_SOURCE;
    m.bytes.resize(static_cast<std::size_t>(count));
    check_mpi(MPI_Mrecv(m.bytes.data(), count, MPI_BYTE, &message, MPI_STATUS_IGNORE), "MPI_Mrecv");
    return m;
}

void MpiCommunicator::sum(std::span<long long> values)
{
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), count_of(values.size(), "MPI_Allreduce"),
                            MPI_LONG_LONG, MPI_SUM, m_comm),
              "MPI_Allreduce");
}

void MpiCommunicator::max(std::span<std::uint8_t> values)
{
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), count_of(values.size(), "MPI_Allreduce"),
                            MPI_UNSIGNED_CHAR, MPI_MAX, m_comm),
              "MPI_Allreduce");
}

void MpiCommunicator::min(std::span<int> values)
{
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), count_of(values.size(), "MPI_Allreduce"),
                            MPI_INT, MPI_MIN, m_comm),
              "MPI_Allreduce");
}

void MpiCommunicator::broadcast(std::span<std::uint8_t> bytes, int root)
{
    check_mpi(MPI_Bcast(bytes.data(), count_of(bytes.size(), "MPI_Bcast"), MPI_UNSIGNED_CHAR, root,
                        m_comm),
              "MPI_Bcast");
}

std::vector<double> MpiCommunicator::gather(std::span<const double> values, int root)
{
    const int n = count_of(values.size(), "MPI_Gather");
    std::vector<double> all(m_rank == root ? values.size() * static_cast<std::size_t>(m_size) : 0);
    check_mpi(MPI_Gather(values.data(), n, MPI_DOUBLE, all.data(), n, MPI_DOUBLE, root, m_comm),
              "MPI_Gather");
    return all;
}

void MpiCommunicator::barrier()
{
    check_mpi(MPI_Barrier(m_comm), "MPI_Barrier");
}

} // namespace atrous
