// SPDX-License-Identifier: Apache-2.0
// Purpose: version(), git_commit() and the `atrous --version` report.
#include "pipeline/version.hpp"

#include "pipeline/build_info.hpp"
#include "stages/infer/kernels/dispatch.hpp"

#include <H5public.h>
#include <fmt/format.h>
#include <gdal.h>
#if ATROUS_HAVE_MPI
#include <mpi.h>
#endif
#include <oneapi/tbb/version.h>

#include <algorithm>

namespace atrous
{
std::string_view version()
{
    return ATROUS_VERSION;
}

std::string_view git_commit()
{
    return ATROUS_GIT_COMMIT;
}

std::string version_report()
{
    namespace k = infer::kernels;
    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);
    std::string mpi_text = "none (built with -DATROUS_MPI=OFF)";
#if ATROUS_HAVE_MPI
    // Callable before MPI_Init (MPI 3.0); a plain run never initializes MPI.
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = {};
    int mpi_length = 0;
    mpi_text = "unknown";
    if (MPI_Get_library_version(mpi, &mpi_length) == MPI_SUCCESS)
    {
        mpi_text.assign(mpi, static_cast<std::size_t>(std::max(0, mpi_length)));
        mpi_text = mpi_text.substr(0, mpi_text.find_first_of("\r\n"));
        mpi_text = mpi_text.substr(0, mpi_text.find_last_not_of(" \t") + 1);
    }
#endif
    const std::string yaml_cpp = ATROUS_YAML_CPP_VERSION;
    std::string out = fmt::format("atrous {}\n", version());
    out += fmt::format("commit    {}\n", git_commit());
    out += fmt::format("GDAL      {}\n", GDALVersionInfo("RELEASE_NAME"));
    out += fmt::format("HDF5      {}.{}.{}\n", major, minor, release);
    out += fmt::format("MPI       {}\n", mpi_text);
    out += fmt::format("TBB       {}\n", TBB_runtime_version());
    out += fmt::format("yaml-cpp  {}\n", yaml_cpp.empty() ? std::string("unknown") : yaml_cpp);
    out += fmt::format("kernels   conv2d {}, depthwise_conv2d {}, separable_conv2d {} (the "
                       "fastest this CPU runs)\n",
                       k::conv2d_fast().name, k::depthwise_fast().name, k::separable_fast().name);
    return out;
}
} // namespace atrous
