// SPDX-License-Identifier: Apache-2.0
// Purpose: the one GDAL dataset handle of atrous: a unique_ptr that GDALCloses its dataset.
#pragma once

#include <gdal.h>

#include <memory>
#include <type_traits>

namespace atrous::gdal
{

/// GDALCloses a dataset: a C API handle, or a C++ GDALDataset (or a class of ours derived from
/// it). GDALClose flushes a dataset opened for writing: where a flush failure must be seen,
/// reset() the owner while collecting GDAL's errors.
struct DatasetCloser
{
    void operator()(GDALDatasetH ds) const noexcept
    {
        if (ds != nullptr)
            GDALClose(ds);
    }
    template <class D>
    requires(!std::is_void_v<D>) void operator()(D* ds) const noexcept
    {
        if (ds != nullptr)
            GDALClose(D::ToHandle(ds));
    }
};

/// Owns a GDALDatasetH (null when empty): `gdal::Dataset ds(GDALOpenEx(...)); if (!ds) ...`,
/// then ds.get() for GDAL's C API.
using Dataset = std::unique_ptr<std::remove_pointer_t<GDALDatasetH>, DatasetCloser>;

/// Owns a C++ dataset object (GDALDataset or a class derived from it).
template <class D> using DatasetObject = std::unique_ptr<D, DatasetCloser>;

} // namespace atrous::gdal
