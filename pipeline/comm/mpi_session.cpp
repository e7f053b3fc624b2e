// SPDX-License-Identifier: Apache-2.0
// Purpose: MPI initialization, thread level check, finalize or abort.
#include "mpi_session.hpp"

#include "stages/error.hpp"

#if ATROUS_HAVE_MPI
#include "pipeline/comm/mpi_communicator.hpp"

#include <mpi.h>
#endif

#include <cstdlib>
#include <exception>
#include <string>

namespace atrous
{

bool MpiSession::launched_by_mpi()
{
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    {
        if (std::getenv(v) != nullptr)
            return true;
    }
    return false;
}

#if ATROUS_HAVE_MPI

bool MpiSession::running()
{
    int initialized = 0;
    int finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized != 0 && finalized == 0;
}

void MpiSession::abort(int status)
{
    MPI_Abort(MPI_COMM_WORLD, status);
    std::_Exit(status);
}

MpiSession::MpiSession()
{
    if (!launched_by_mpi())
    {
        m_comm = std::make_unique<SoloCommunicator>();
        return;
    }
    int provided = 0;
    // MULTIPLE: rank 0 serves tile requests on its own thread while its workers write through
    // MPI-IO.
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        throw Error("mpi", "MPI_Init_thread failed");
    m_active = true;
    check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &m_rank), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &m_size), "MPI_Comm_size");
    if (provided < MPI_THREAD_MULTIPLE && m_size > 1)
        throw Error("mpi", "the MPI library provides thread level " + std::to_string(provided) +
                               ", MPI_THREAD_MULTIPLE (" + std::to_string(MPI_THREAD_MULTIPLE) +
                               ") needed");
    MPI_Comm local;
    check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local),
              "MPI_Comm_split_type");
    check_mpi(MPI_Comm_size(local, &m_local_size), "MPI_Comm_size");
    check_mpi(MPI_Comm_free(&local), "MPI_Comm_free");
    m_comm = std::make_unique<MpiCommunicator>();
}

MpiSession::~MpiSession()
{
    // Unwinding: main() aborts the job next; leave MPI's state alone.
    if (std::uncaught_exceptions() > 0)
    {
        static_cast<void>(m_comm.release());
        return;
    }
    m_comm.reset(); // frees its MPI communicator before MPI_Finalize
    if (m_active && running())
        MPI_Finalize();
}

#else // a build without MPI: one process; a launch of several ranks is refused

bool MpiSession::running()
{
    return false;
}

void MpiSession::abort(int status)
{
    std::_Exit(status);
}

MpiSession::MpiSession()
{
    m_comm = std::make_unique<SoloCommunicator>();
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_NTASKS"})
    {
        const char* n = std::getenv(v);
        if (launched_by_mpi() && n != nullptr && std::atoi(n) > 1)
            throw ConfigError("mpi", std::string("launched as ") + n + " ranks (" + v +
                                         "), but this atrous was built without MPI "
                                         "(-DATROUS_MPI=OFF): run one process, or build with MPI");
    }
}

MpiSession::~MpiSession() = default;

#endif

} // namespace atrous
