// SPDX-License-Identifier: Apache-2.0
// Purpose: a small read-only view of an HDF5 file for the Keras importer: string attributes,
// float datasets, existence checks; HDF5's own messages are collected into ModelErrors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace atrous::infer
{

/// A float dataset read into memory, converted to float32 by HDF5.
struct H5FloatArray
{
    std::vector<int> shape; // row-major dimensions; empty for a scalar
    std::vector<float> values;
};

/// An open HDF5 file, read only. Object paths are absolute HDF5 paths ("/model_weights/conv2d").
/// Every failure throws ModelError("model <path>", ...) carrying HDF5's own reason; HDF5's
/// automatic error printing is silenced for this thread while the file is open (and restored by
/// the destructor), so nothing reaches stderr. Not thread-safe: use from one thread.
class H5File
{
public:
    /// Opens `path`; ModelError when it does not exist, is not HDF5, or is truncated.
    explicit H5File(const std::filesystem::path& path);
    /// Opens an HDF5 file held in memory (an entry of a Keras 3 .keras zip) through HDF5's core
    /// driver, which copies `image`: nothing is written to disk. `where` prefixes every error
    /// ("model m.keras: entry model.weights.h5").
    H5File(const std::vector<unsigned char>& image, std::string where);
    ~H5File();
    H5File(const H5File&) = delete;
    H5File& operator=(const H5File&) = delete;

    /// "model <path>", the prefix of every error about this file.
    const std::string& where() const { return m_where; }

    /// True when every component of `object_path` exists (a group or a dataset).
    bool exists(const std::string& object_path) const;
    bool has_attribute(const std::string& object_path, const std::string& name) const;

    /// The names of the members (groups, datasets) of the group `group_path`, sorted by name;
    /// throws when it is not a group.
    std::vector<std::string> members(const std::string& group_path) const;

    /// A string attribute, scalar or 1-D, fixed-length or variable-length, as a list of
    /// strings. Attributes Keras split because of the 64 KiB header limit (`name0`, `name1`,
    /// ...) are joined. Throws when absent or not strings.
    std::vector<std::string> string_attribute(const std::string& object_path,
                                              const std::string& name) const;

    /// A floating-point dataset converted to float32. Throws when absent or not floating point.
    H5FloatArray float_dataset(const std::string& dataset_path) const;

private:
    struct State;
    std::string m_where;
    std::unique_ptr<State> m_state;
};

} // namespace atrous::infer
