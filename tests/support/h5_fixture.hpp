// SPDX-License-Identifier: Apache-2.0
// Purpose: reads the small HDF5 fixtures written by tools/make_layer_fixtures.py (string
// attributes and float32 datasets) with the HDF5 C API; test-only, header-only.
#pragma once

#include <hdf5.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace atrous::test
{

/// A float32 array read from a fixture, with its HDF5 dimensions.
struct H5Array
{
    std::vector<int> shape;
    std::vector<float> values;
};

/// Read-only handle on one fixture file. Throws std::runtime_error naming file and object.
class H5Fixture
{
public:
    explicit H5Fixture(const std::string& path) : m_path(path)
    {
        m_file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        if (m_file < 0)
            throw std::runtime_error(path + ": cannot open");
    }
    ~H5Fixture() { H5Fclose(m_file); }
    H5Fixture(const H5Fixture&) = delete;
    H5Fixture& operator=(const H5Fixture&) = delete;

    bool exists(const std::string& name) const
    {
        return H5Lexists(m_file, name.c_str(), H5P_DEFAULT) > 0;
    }

    /// A string attribute of the root group (fixed-length or variable-length).
    std::string string_attr(const std::string& name) const
    {
        const hid_t attr = H5Aopen(m_file, name.c_str(), H5P_DEFAULT);
        if (attr < 0)
            throw std::runtime_error(m_path + ": no attribute " + name);
        const hid_t type = H5Aget_type(attr);
        std::string out;
        if (H5Tis_variable_str(type) > 0)
        {
            char* text = nullptr;
            const hid_t mem = H5Tcopy(H5T_C_S1);
            H5Tset_size(mem, H5T_VARIABLE);
            H5Aread(attr, mem, &text);
            out = text ? text : "";
            H5free_memory(text);
            H5Tclose(mem);
        }
        else
        {
            std::vector<char> buffer(H5Tget_size(type) + 1, '\0');
            H5Aread(attr, type, buffer.data());
            out = buffer.data();
        }
        H5Tclose(type);
        H5Aclose(attr);
        return out;
    }

    H5Array array(const std::string& name) const
    {
        const hid_t set = H5Dopen2(m_file, name.c_str(), H5P_DEFAULT);
        if (set < 0)
            throw std::runtime_error(m_path + ": no dataset " + name);
        const hid_t space = H5Dget_space(set);
        const int rank = H5Sget_simple_extent_ndims(space);
        std::vector<hsize_t> dims(rank);
        H5Sget_simple_extent_dims(space, dims.data(), nullptr);
        H5Array out;
        std::size_t count = 1;
        for (hsize_t d : dims)
        {
            out.shape.push_back(static_cast<int>(d));
            count *= d;
        }
        out.values.resize(count);
        const herr_t status =
            H5Dread(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data());
        H5Sclose(space);
        H5Dclose(set);
        if (status < 0)
            throw std::runtime_error(m_path + ": cannot read " + name);
        return out;
    }

private:
    std::string m_path;
    hid_t m_file = -1;
};

} // namespace atrous::test
