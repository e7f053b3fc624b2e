// SPDX-License-Identifier: Apache-2.0
// Purpose: read access to an atrous HDF5 output (layout, georeferencing, provenance, windows of
// the mask or probabilities) for `atrous export` and `atrous preview`.
#pragma once

#include "stages/write/h5_handle.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace atrous
{

/// One dataset of the file: /mask or /class (2-D, uint8, 255 = nodata) or /probability or
/// /class_probability (3-D C x H x W, uint8 with 255 = nodata or float32 with NaN = nodata).
struct OutputDataset
{
    std::string name; // "mask", "class", "probability", "class_probability"
    int bands = 1;    // C for probabilities, 1 for labels
    int width = 0;    // pixels (or tile-grid cells for the classifier datasets)
    int height = 0;
    bool float32 = false; // else uint8
};

/// An atrous output opened read-only. Not thread-safe (HDF5 is not): one thread at a time.
class OutputFile
{
public:
    /// Throws InputError("<path>: ...") when the file is missing, not a regular file (a FIFO would
    /// block), not HDF5, or holds neither /mask nor /class.
    explicit OutputFile(const std::filesystem::path& path);

    const std::filesystem::path& path() const { return m_path; }
    /// true: /mask (pixels); false: a classifier's /class (one cell per tile).
    bool spatial() const { return m_spatial; }
    /// The labels (/mask or /class); the probabilities when the file has them.
    const OutputDataset& labels() const { return m_labels; }
    const std::optional<OutputDataset>& probabilities() const { return m_probabilities; }

    /// GDAL-order geotransform of the labels' grid (the classifier's /class has its own, one
    /// cell per tile); empty when the input had none.
    const std::optional<std::array<double, 6>>& geotransform() const { return m_geotransform; }
    const std::string& crs_wkt() const { return m_crs_wkt; }
    /// The root attribute config_yaml ("" when absent).
    const std::string& config_yaml() const { return m_config_yaml; }
    /// C, the model's classes (attribute `classes` of the labels; else the probabilities' bands,
    /// else 0).
    int classes() const { return m_classes; }
    /// Tiles marked written in /progress/tile_done and the tile count (0 and 0 without it). A
    /// published output has every tile; a ".partial" one may not.
    long long tiles_done() const { return m_tiles_done; }
    long long tiles_total() const { return m_tiles_total; }

    /// Reads band `band` (0-based) of `d` in the window into `out` (width * height values, row
    /// major): uint8 datasets as uint8, float32 ones as float. Throws InputError on HDF5 errors.
    void read(const OutputDataset& d, int band, int x, int y, int width, int height,
              std::uint8_t* out) const;
    void read(const OutputDataset& d, int band, int x, int y, int width, int height,
              float* out) const;

private:
    std::filesystem::path m_path;
    h5::Handle m_file;
    bool m_spatial = true;
    OutputDataset m_labels;
    std::optional<OutputDataset> m_probabilities;
    std::optional<std::array<double, 6>> m_geotransform;
    std::string m_crs_wkt;
    std::string m_config_yaml;
    int m_classes = 0;
    long long m_tiles_done = 0;
    long long m_tiles_total = 0;

    void read_window(const OutputDataset& d, int band, int x, int y, int width, int height,
                     hid_t mem_type, void* out) const;
};

} // namespace atrous
