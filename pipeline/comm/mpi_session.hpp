// SPDX-License-Identifier: Apache-2.0
// Purpose: MPI for `atrous run`: initialized only when the process was launched by an MPI
// launcher (mpirun, srun --mpi=pmix), so a plain run never starts MPI's machinery.
#pragma once

#include "stages/communicator.hpp"

#include <memory>

namespace atrous
{

/// RAII: MPI_Init_thread(MPI_THREAD_MULTIPLE) when launched_by_mpi(), MPI_Finalize on
/// destruction unless an exception is unwinding (main() then aborts the job with the error's
/// status: finalizing alone would wait for the other ranks forever). Not launched: rank 0 of 1,
/// no MPI call at all.
class MpiSession
{
public:
    MpiSession();
    ~MpiSession();
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;

    bool active() const { return m_active; }
    int rank() const { return m_rank; }
    int size() const { return m_size; }
    /// Ranks on this node (MPI_COMM_TYPE_SHARED); 1 when not active.
    int local_size() const { return m_local_size; }
    /// The run's ranks: over MPI when active, else this process alone.
    Communicator& communicator() const { return *m_comm; }

    /// The launcher's environment says this is one of several MPI processes (OMPI_COMM_WORLD_SIZE,
    /// PMIX_RANK, PMI_RANK).
    static bool launched_by_mpi();
    /// MPI is initialized and not finalized (main() decides between abort and exit on it).
    static bool running();
    /// Several ranks: MPI_Abort(MPI_COMM_WORLD, status) (does not return).
    [[noreturn]] static void abort(int status);

private:
    bool m_active = false;
    int m_rank = 0;
    int m_size = 1;
    int m_local_size = 1;
    std::unique_ptr<Communicator> m_comm;
};

} // namespace atrous
