// SPDX-License-Identifier: Apache-2.0
// Purpose: OutputFile: opens an atrous HDF5 output read-only and reads attributes and windows.
#include "output_file.hpp"

#include "stages/error.hpp"
#include "stages/write/output_schema.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cstdlib>
#include <sys/stat.h>

namespace atrous
{

namespace
{

/// HDF5 call results become InputError naming the file (the output is the input here).
h5::Handle need(hid_t id, const std::string& where, const std::string& what)
{
    if (id < 0)
    {
        const std::string stack = h5::error_stack();
        throw InputError(where, stack.empty() ? what : what + ": " + stack);
    }
    return h5::Handle(id);
}

void need(herr_t status, const std::string& where, const std::string& what)
{
    if (status < 0)
    {
        const std::string stack = h5::error_stack();
        throw InputError(where, stack.empty() ? what : what + ": " + stack);
    }
}

bool has_link(hid_t file, const char* name)
{
    return H5Lexists(file, name, H5P_DEFAULT) > 0;
}

/// A string attribute (variable- or fixed-length); nullopt when absent.
std::optional<std::string> string_attribute(hid_t obj, const char* name, const std::string& where)
{
    if (H5Aexists(obj, name) <= 0)
        return std::nullopt;
    h5::Handle attr =
        need(H5Aopen(obj, name, H5P_DEFAULT), where, std::string("attribute ") + name);
    h5::Handle type = need(H5Aget_type(attr.get()), where, name);
    if (H5Tget_class(type.get()) != H5T_STRING)
        return std::nullopt;
    if (H5Tis_variable_str(type.get()) > 0)
    {
        h5::Handle mem = need(H5Tcopy(H5T_C_S1), where, "H5Tcopy");
        need(H5Tset_size(mem.get(), H5T_VARIABLE), where, "H5Tset_size");
        need(H5Tset_cset(mem.get(), H5Tget_cset(type.get())), where, "H5Tset_cset");
        char* text = nullptr;
        need(H5Aread(attr.get(), mem.get(), &text), where, std::string("attribute ") + name);
        std::string out = text != nullptr ? text : "";
        H5free_memory(text);
        return out;
    }
    const std::size_t size = H5Tget_size(type.get());
    std::string out(size, '\0');
    need(H5Aread(attr.get(), type.get(), out.data()), where, std::string("attribute ") + name);
    out.resize(out.find('\0') == std::string::npos ? size : out.find('\0'));
    return out;
}

/// A scalar integer attribute; nullopt when absent or not an integer.
std::optional<int> int_attribute(hid_t obj, const char* name)
{
    if (H5Aexists(obj, name) <= 0)
        return std::nullopt;
    h5::Handle attr(H5Aopen(obj, name, H5P_DEFAULT));
    if (!attr)
        return std::nullopt;
    h5::Handle type(H5Aget_type(attr.get()));
    h5::Handle space(H5Aget_space(attr.get()));
    if (!type || !space || H5Tget_class(type.get()) != H5T_INTEGER ||
        H5Sget_simple_extent_npoints(space.get()) != 1)
        return std::nullopt;
    int value = 0;
    if (H5Aread(attr.get(), H5T_NATIVE_INT, &value) < 0)
        return std::nullopt;
    return value;
}

std::optional<std::array<double, 6>> geotransform_attribute(hid_t obj, const std::string& where)
{
    if (H5Aexists(obj, schema::geotransform) <= 0)
        return std::nullopt;
    h5::Handle attr =
        need(H5Aopen(obj, schema::geotransform, H5P_DEFAULT), where, schema::geotransform);
    h5::Handle space = need(H5Aget_space(attr.get()), where, schema::geotransform);
    if (H5Sget_simple_extent_npoints(space.get()) != 6)
        throw InputError(where, "attribute geotransform: 6 numbers expected");
    std::array<double, 6> gt{};
    need(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, gt.data()), where, "attribute geotransform");
    return gt;
}

OutputDataset describe(hid_t file, const char* name, int rank, const std::string& where)
{
    h5::Handle ds = need(H5Dopen2(file, name, H5P_DEFAULT), where, std::string("/") + name);
    h5::Handle space = need(H5Dget_space(ds.get()), where, name);
    const int got = H5Sget_simple_extent_ndims(space.get());
    if (got != rank)
        throw InputError(where, "/" + std::string(name) + ": " + std::to_string(rank) +
                                    " dimensions expected, " + std::to_string(got) + " found");
    hsize_t dims[3] = {1, 1, 1};
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    h5::Handle type = need(H5Dget_type(ds.get()), where, name);
    OutputDataset d;
    d.name = name;
    d.bands = rank == 3 ? static_cast<int>(dims[0]) : 1;
    d.height = static_cast<int>(dims[rank - 2]);
    d.width = static_cast<int>(dims[rank - 1]);
    d.float32 = H5Tget_class(type.get()) == H5T_FLOAT;
    if (!d.float32 && (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_size(type.get()) != 1))
        throw InputError(where, "/" + std::string(name) + ": uint8 or float32 expected");
    return d;
}

} // namespace

OutputFile::OutputFile(const std::filesystem::path& path) : m_path(path)
{
    const std::string where = path.string();
    struct stat st
    {
    };
    if (::stat(where.c_str(), &st) != 0)
        throw InputError(where, "no such file");
    if (!S_ISREG(st.st_mode))
        throw InputError(where, "not a regular file");
    h5::SilenceErrors quiet;
    if (H5Fis_hdf5(where.c_str()) <= 0)
        throw InputError(where, "not an HDF5 file");
    m_file = need(H5Fopen(where.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), where, "cannot open");
    const hid_t f = m_file.get();
    if (has_link(f, schema::mask))
    {
        m_spatial = true;
        m_labels = describe(f, schema::mask, 2, where);
        if (has_link(f, schema::probability))
            m_probabilities = describe(f, schema::probability, 3, where);
        m_geotransform = geotransform_attribute(f, where);
    }
    else if (has_link(f, schema::class_grid))
    {
        m_spatial = false;
        m_labels = describe(f, schema::class_grid, 2, where);
        if (has_link(f, schema::class_probability))
            m_probabilities = describe(f, schema::class_probability, 3, where);
        h5::Handle ds = need(H5Dopen2(f, schema::class_grid, H5P_DEFAULT), where, "/class");
        m_geotransform = geotransform_attribute(ds.get(), where);
    }
    else
    {
        throw InputError(where, "not an atrous output (neither /mask nor /class)");
    }
    if (m_labels.float32)
        throw InputError(where, "/" + m_labels.name + ": uint8 expected, float found");
    m_crs_wkt = string_attribute(f, schema::crs_wkt, where).value_or("");
    m_config_yaml = string_attribute(f, schema::config_yaml, where).value_or("");
    {
        h5::Handle ds = need(H5Dopen2(f, m_labels.name.c_str(), H5P_DEFAULT), where, m_labels.name);
        m_classes = int_attribute(ds.get(), schema::classes)
                        .value_or(m_probabilities ? m_probabilities->bands : 0);
    }
    if (has_link(f, schema::progress_group) && has_link(f, schema::tile_done))
    {
        h5::Handle ds = need(H5Dopen2(f, schema::tile_done, H5P_DEFAULT), where,
                             std::string("/") + schema::tile_done);
        h5::Handle space = need(H5Dget_space(ds.get()), where, schema::tile_done);
        const hssize_t n = H5Sget_simple_extent_npoints(space.get());
        std::vector<std::uint8_t> done(static_cast<std::size_t>(std::max<hssize_t>(n, 0)));
        if (!done.empty())
            need(H5Dread(ds.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, done.data()),
                 where, std::string("/") + schema::tile_done);
        m_tiles_total = static_cast<long long>(done.size());
        m_tiles_done =
            std::count_if(done.begin(), done.end(), [](std::uint8_t d) { return d != 0; });
    }
}

void OutputFile::read_window(const OutputDataset& d, int band, int x, int y, int width, int height,
                             hid_t mem_type, void* out) const
{
    const std::string where = m_path.string();
    h5::SilenceErrors quiet;
    h5::Handle ds = need(H5Dopen2(m_file.get(), d.name.c_str(), H5P_DEFAULT), where, d.name);
    h5::Handle space = need(H5Dget_space(ds.get()), where, d.name);
    const bool cube = d.name == schema::probability || d.name == schema::class_probability;
    std::vector<hsize_t> start{static_cast<hsize_t>(y), static_cast<hsize_t>(x)};
    std::vector<hsize_t> count{static_cast<hsize_t>(height), static_cast<hsize_t>(width)};
    if (cube)
    {
        start.insert(start.begin(), static_cast<hsize_t>(band));
        count.insert(count.begin(), 1);
    }
    need(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                             nullptr),
         where, d.name + ": window");
    const hsize_t mem_dims[2] = {static_cast<hsize_t>(height), static_cast<hsize_t>(width)};
    h5::Handle mem = need(H5Screate_simple(2, mem_dims, nullptr), where, "H5Screate_simple");
    need(H5Dread(ds.get(), mem_type, mem.get(), space.get(), H5P_DEFAULT, out), where,
         "/" + d.name + ": read (" + std::to_string(x) + "," + std::to_string(y) + " " +
             std::to_string(width) + "x" + std::to_string(height) + ")");
}

void OutputFile::read(const OutputDataset& d, int band, int x, int y, int width, int height,
                      std::uint8_t* out) const
{
    read_window(d, band, x, y, width, height, H5T_NATIVE_UINT8, out);
}

void OutputFile::read(const OutputDataset& d, int band, int x, int y, int width, int height,
                      float* out) const
{
    read_window(d, band, x, y, width, height, H5T_NATIVE_FLOAT, out);
}

} // namespace atrous
