// SPDX-License-Identifier: Apache-2.0
// Purpose: `write.hdf5`: file and dataset creation, block writes by hyperslab, publish by rename.
#include "hdf5_writer.hpp"

#include "stages/error.hpp"
#include "stages/write/h5_handle.hpp"
#include "stages/write/make_writer.hpp"
#include "stages/write/output_lock.hpp"

#include <hdf5.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <unistd.h>

namespace atrous
{

namespace
{

constexpr const char* where = "write.hdf5";
constexpr std::uint8_t nodata_u8 = 255;

std::filesystem::path partial_of(const std::filesystem::path& path)
{
    return std::filesystem::path(path.string() + ".partial");
}

/// Fails before any work when the output cannot be created, naming the culprit.
void check_target(const std::filesystem::path& path)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    if (!fs::exists(dir, ec))
        throw OutputError(where, dir.string() + ": no such directory");
    if (!fs::is_directory(dir, ec))
        throw OutputError(where, dir.string() + ": not a directory");
    if (fs::is_directory(path, ec))
        throw OutputError(where, path.string() + ": is a directory");
    // A real probe (access() says yes to root even on read-only places).
    const fs::path partial = partial_of(path);
    const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
    {
        const int err = errno;
        if (err == EACCES || err == EPERM || err == EROFS)
            throw OutputError(where, dir.string() + ": not writable (" + std::strerror(err) + ")");
        throw OutputError(where, partial.string() + ": " + std::strerror(err));
    }
    ::close(fd);
}

hsize_t chunk_edge(int tile, int dim)
{
    return static_cast<hsize_t>(std::min(tile, dim));
}

void write_attribute(hid_t obj, const char* name, hid_t mem_type, hid_t file_type,
                     const void* value, hsize_t count)
{
    h5::Handle space =
        count == 0 ? h5::check(H5Screate(H5S_SCALAR), where, "H5Screate")
                   : h5::check(H5Screate_simple(1, &count, nullptr), where, "H5Screate_simple");
    h5::Handle attr =
        h5::check(H5Acreate2(obj, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), where,
                  std::string("attribute ") + name);
    h5::check(H5Awrite(attr.get(), mem_type, value), where, std::string("attribute ") + name);
}

void write_string_attribute(hid_t obj, const char* name, const std::string& value)
{
    h5::Handle type = h5::check(H5Tcopy(H5T_C_S1), where, "H5Tcopy");
    h5::check(H5Tset_size(type.get(), H5T_VARIABLE), where, "H5Tset_size");
    h5::check(H5Tset_cset(type.get(), H5T_CSET_UTF8), where, "H5Tset_cset");
    const char* text = value.c_str();
    write_attribute(obj, name, type.get(), type.get(), &text, 0);
}

void write_u8_attribute(hid_t obj, const char* name, std::uint8_t value)
{
    write_attribute(obj, name, H5T_NATIVE_UINT8, H5T_STD_U8LE, &value, 0);
}

void write_double_attribute(hid_t obj, const char* name, double value)
{
    write_attribute(obj, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, &value, 0);
}

void write_float_attribute(hid_t obj, const char* name, float value)
{
    write_attribute(obj, name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, &value, 0);
}

} // namespace

/// The open file and its datasets; only touched under Hdf5Writer::m_mutex.
struct Hdf5Writer::File
{
    h5::Handle file;
    h5::Handle labels;              // /mask or /class
    h5::Handle probabilities;       // /probability or /class_probability; invalid when none
    h5::Handle tile_done;           // /progress/tile_done
    std::vector<std::uint8_t> done; // per tile
    long long written = 0;

    h5::Handle create_dataset(const char* name, hid_t type, const std::vector<hsize_t>& dims,
                              const std::vector<hsize_t>& chunk, const void* fill,
                              const WriteOptions& o, bool direct)
    {
        h5::Handle space =
            h5::check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), where,
                      std::string(name) + ": H5Screate_simple");
        h5::Handle dcpl = h5::check(H5Pcreate(H5P_DATASET_CREATE), where, "H5Pcreate");
        if (!chunk.empty())
        {
            h5::check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), where,
                      std::string(name) + ": H5Pset_chunk");
            if (o.compression == "deflate")
            {
                h5::check(H5Pset_shuffle(dcpl.get()), where, "H5Pset_shuffle");
                h5::check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(o.compression_level)),
                          where, "H5Pset_deflate");
            }
        }
        h5::check(H5Pset_fill_value(dcpl.get(), type, fill), where, "H5Pset_fill_value");
        h5::check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_IFSET), where, "H5Pset_fill_time");
        // No chunk cache where blocks are whole chunks (spatial: a block is a tile core, a chunk
        // is a tile): each H5Dwrite compresses and writes its chunks at once, so a write error
        // (disk full) surfaces in write() and leaves no dirty chunk behind for close() to retry.
        h5::Handle dapl = h5::check(H5Pcreate(H5P_DATASET_ACCESS), where, "H5Pcreate");
        if (direct)
            h5::check(H5Pset_chunk_cache(dapl.get(), 0, 0, 1.0), where, "H5Pset_chunk_cache");
        return h5::check(
            H5Dcreate2(file.get(), name, type, space.get(), H5P_DEFAULT, dcpl.get(), dapl.get()),
            where, std::string("create ") + name);
    }
};

Hdf5Writer::Hdf5Writer(WriteOptions options, OutputLayout layout)
    : m_options(std::move(options)), m_layout(std::move(layout))
{
}

Hdf5Writer::~Hdf5Writer()
{
    if (m_file)
    {
        h5::SilenceErrors quiet;
        m_file.reset(); // closes without publishing: "<path>.partial" stays
    }
}

std::filesystem::path Hdf5Writer::partial_path() const
{
    return partial_of(m_options.path);
}

long long Hdf5Writer::tiles_written() const
{
    std::lock_guard lock(m_mutex);
    return m_file ? m_file->written : 0;
}

void Hdf5Writer::prepare(const RunContext& context)
{
    const WriteOptions& o = m_options;
    const OutputLayout& l = m_layout;
    if (o.compression != "deflate" && o.compression != "none")
        throw ConfigError(where, "output.compression: '" + o.compression +
                                     "' given, 'deflate' or 'none' expected");
    if (o.compression == "deflate" && (o.compression_level < 1 || o.compression_level > 9))
        throw ConfigError(where, "output.compression_level: " +
                                     std::to_string(o.compression_level) + " given, 1..9 expected");
    if (l.width <= 0 || l.height <= 0 || l.channels <= 0 || l.tile_size <= 0 || l.columns <= 0 ||
        l.rows <= 0)
        throw Error(where, "bad layout: " + std::to_string(l.width) + "x" +
                               std::to_string(l.height) + ", " + std::to_string(l.channels) +
                               " channels, tile " + std::to_string(l.tile_size) + ", grid " +
                               std::to_string(l.columns) + "x" + std::to_string(l.rows));
    if (context.ranks > 1)
        throw OutputError(where, "writing from " + std::to_string(context.ranks) +
                                     " MPI ranks is not supported yet");
    if (o.path.empty())
        throw ConfigError(where, "output.path: empty");
    // Before the probe in check_target, which truncates "<path>.partial": refuse a second run.
    if (!m_lock)
        m_lock = OutputLock::acquire(o.path, where);
    check_target(o.path);

    std::lock_guard lock(m_mutex);
    h5::SilenceErrors quiet;
    auto f = std::make_unique<File>();
    const std::string partial = partial_path().string();
    {
        // File access: the POSIX (sec2) driver for one process; the MPI-IO driver
        // (H5Pset_fapl_mpio) slots in here for ranks > 1, the rest stays as is.
        h5::Handle fapl = h5::check(H5Pcreate(H5P_FILE_ACCESS), where, "H5Pcreate");
        h5::check(H5Pset_fapl_sec2(fapl.get()), where, "H5Pset_fapl_sec2");
        f->file = h5::check(H5Fcreate(partial.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
                            where, partial + ": cannot create");
    }

    const hid_t root = f->file.get();
    const std::uint8_t fill_u8 = nodata_u8;
    const float fill_f32 = std::numeric_limits<float>::quiet_NaN();
    const hsize_t channels = static_cast<hsize_t>(l.channels);
    // Spatial: image pixels chunked by tile; classifier: the tile grid, chunks of <= 64 x 64 cells
    // (cell-by-cell writes go through the default chunk cache).
    const int height = l.spatial ? l.height : l.rows;
    const int width = l.spatial ? l.width : l.columns;
    const int chunk = l.spatial ? l.tile_size : 64;
    const hsize_t ch = chunk_edge(chunk, height);
    const hsize_t cw = chunk_edge(chunk, width);
    const std::vector<hsize_t> dims2{static_cast<hsize_t>(height), static_cast<hsize_t>(width)};
    const std::vector<hsize_t> dims3{channels, dims2[0], dims2[1]};

    f->labels = f->create_dataset(l.spatial ? "mask" : "class", H5T_STD_U8LE, dims2, {ch, cw},
                                  &fill_u8, o, l.spatial);
    write_u8_attribute(f->labels.get(), "_FillValue", nodata_u8);
    write_u8_attribute(f->labels.get(), "nodata", nodata_u8);
    write_attribute(f->labels.get(), "classes", H5T_NATIVE_INT, H5T_STD_I32LE, &l.channels, 0);
    if (l.channels == 1)
        write_double_attribute(f->labels.get(), "threshold", o.threshold);
    write_string_attribute(f->labels.get(), "description",
                           l.channels == 1 ? "1 where p >= threshold, 0 elsewhere, 255 nodata"
                                           : "class index (argmax), 255 nodata");
    if (!l.spatial && l.geotransform)
    {
        // The class grid's own georeferencing: one cell per tile.
        std::array<double, 6> gt = *l.geotransform;
        for (const int i : {1, 2, 4, 5})
            gt[static_cast<std::size_t>(i)] *= l.tile_size;
        write_attribute(f->labels.get(), "geotransform", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE,
                        gt.data(), 6);
    }

    const char* prob_name = l.spatial ? "probability" : "class_probability";
    if (o.probabilities == ProbabilityFormat::uint8)
    {
        f->probabilities =
            f->create_dataset(prob_name, H5T_STD_U8LE, dims3, {1, ch, cw}, &fill_u8, o, l.spatial);
        write_u8_attribute(f->probabilities.get(), "_FillValue", nodata_u8);
        write_u8_attribute(f->probabilities.get(), "nodata", nodata_u8);
        write_double_attribute(f->probabilities.get(), "scale_factor", 1.0 / 254.0);
    }
    else if (o.probabilities == ProbabilityFormat::float32)
    {
        f->probabilities = f->create_dataset(prob_name, H5T_IEEE_F32LE, dims3, {1, ch, cw},
                                             &fill_f32, o, l.spatial);
        write_float_attribute(f->probabilities.get(), "_FillValue", fill_f32);
    }

    {
        h5::Handle group =
            h5::check(H5Gcreate2(root, "progress", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), where,
                      "create /progress");
        const std::uint8_t zero = 0;
        const hsize_t tiles = static_cast<hsize_t>(l.rows) * static_cast<hsize_t>(l.columns);
        WriteOptions plain = o;
        plain.compression = "none";
        f->tile_done =
            f->create_dataset("progress/tile_done", H5T_STD_U8LE, {tiles}, {}, &zero, plain, false);
        write_attribute(f->tile_done.get(), "columns", H5T_NATIVE_INT, H5T_STD_I32LE, &l.columns,
                        0);
        write_attribute(f->tile_done.get(), "rows", H5T_NATIVE_INT, H5T_STD_I32LE, &l.rows, 0);
        f->done.assign(static_cast<std::size_t>(tiles), 0);
    }

    if (l.geotransform)
        write_attribute(root, "geotransform", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE,
                        l.geotransform->data(), 6);
    write_string_attribute(root, "crs_wkt", l.crs_wkt);
    write_string_attribute(root, "atrous_version", ATROUS_VERSION);
    write_string_attribute(root, "model_sha256", o.model_sha256);
    write_string_attribute(root, "config_yaml", o.config_yaml);
    m_file = std::move(f);
    m_published = false;
}

namespace
{

void write_hyperslab(hid_t dataset, hid_t mem_type, const std::vector<hsize_t>& start,
                     const std::vector<hsize_t>& count, const void* data, const std::string& what)
{
    h5::Handle file_space = h5::check(H5Dget_space(dataset), where, what + ": H5Dget_space");
    h5::check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
                                  count.data(), nullptr),
              where, what + ": H5Sselect_hyperslab");
    h5::Handle mem_space =
        h5::check(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), where,
                  what + ": H5Screate_simple");
    h5::check(H5Dwrite(dataset, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, data),
              where, what);
}

} // namespace

void Hdf5Writer::write(const OutputBlock& block)
{
    const OutputLayout& l = m_layout;
    const Window& r = block.region;
    const int width = l.spatial ? l.width : l.columns;
    const int height = l.spatial ? l.height : l.rows;
    const std::size_t plane = static_cast<std::size_t>(std::max(r.width, 0)) *
                              static_cast<std::size_t>(std::max(r.height, 0));
    if (r.x < 0 || r.y < 0 || r.width <= 0 || r.height <= 0 || r.x + r.width > width ||
        r.y + r.height > height || block.channels != l.channels || block.valid.size() != plane ||
        block.probabilities.size() != plane * static_cast<std::size_t>(l.channels))
        throw Error(where, "block (" + std::to_string(r.x) + "," + std::to_string(r.y) + " " +
                               std::to_string(r.width) + "x" + std::to_string(r.height) + ", " +
                               std::to_string(block.channels) +
                               " channels) does not fit the output " + std::to_string(width) + "x" +
                               std::to_string(height) + "x" + std::to_string(l.channels));

    // Labels: argmax over channels (first maximum wins); one channel: p >= threshold.
    const int channels = l.channels;
    const float threshold = static_cast<float>(m_options.threshold);
    std::vector<std::uint8_t> labels(plane);
    for (std::size_t i = 0; i < plane; ++i)
    {
        if (block.valid[i] == 0)
        {
            labels[i] = nodata_u8;
            continue;
        }
        if (channels == 1)
        {
            labels[i] = block.probabilities[i] >= threshold ? 1 : 0;
            continue;
        }
        int best = 0;
        for (int c = 1; c < channels; ++c)
        {
            if (block.probabilities[c * plane + i] > block.probabilities[best * plane + i])
                best = c;
        }
        labels[i] = static_cast<std::uint8_t>(best);
    }
    std::vector<std::uint8_t> prob_u8;
    std::vector<float> prob_f32;
    if (m_options.probabilities == ProbabilityFormat::uint8)
    {
        prob_u8.resize(block.probabilities.size());
        for (std::size_t k = 0; k < prob_u8.size(); ++k)
        {
            const float p = std::clamp(block.probabilities[k], 0.0f, 1.0f);
            prob_u8[k] = block.valid[k % plane] != 0
                             ? static_cast<std::uint8_t>(std::lround(p * 254.0f))
                             : nodata_u8;
        }
    }
    else if (m_options.probabilities == ProbabilityFormat::float32)
    {
        prob_f32.resize(block.probabilities.size());
        for (std::size_t k = 0; k < prob_f32.size(); ++k)
            prob_f32[k] = block.valid[k % plane] != 0 ? block.probabilities[k]
                                                      : std::numeric_limits<float>::quiet_NaN();
    }

    const hsize_t y = static_cast<hsize_t>(r.y);
    const hsize_t x = static_cast<hsize_t>(r.x);
    const hsize_t h = static_cast<hsize_t>(r.height);
    const hsize_t w = static_cast<hsize_t>(r.width);
    std::lock_guard lock(m_mutex);
    if (!m_file)
        throw Error(where, "write() called before prepare() or after finish()");
    for (const TileId id : block.tiles)
    {
        if (id < 0 || static_cast<std::size_t>(id) >= m_file->done.size())
            throw Error(where, "tile " + std::to_string(id) + " outside the grid");
    }
    h5::SilenceErrors quiet;
    const std::string what = "writing block (" + std::to_string(r.x) + "," + std::to_string(r.y) +
                             " " + std::to_string(r.width) + "x" + std::to_string(r.height) + ")";
    write_hyperslab(m_file->labels.get(), H5T_NATIVE_UINT8, {y, x}, {h, w}, labels.data(), what);
    const hsize_t c = static_cast<hsize_t>(channels);
    if (!prob_u8.empty())
        write_hyperslab(m_file->probabilities.get(), H5T_NATIVE_UINT8, {0, y, x}, {c, h, w},
                        prob_u8.data(), what);
    if (!prob_f32.empty())
        write_hyperslab(m_file->probabilities.get(), H5T_NATIVE_FLOAT, {0, y, x}, {c, h, w},
                        prob_f32.data(), what);
    const std::uint8_t one = 1;
    for (const TileId id : block.tiles)
    {
        write_hyperslab(m_file->tile_done.get(), H5T_NATIVE_UINT8, {static_cast<hsize_t>(id)}, {1},
                        &one, what + ": progress");
        auto& done = m_file->done[static_cast<std::size_t>(id)];
        if (done == 0)
        {
            done = 1;
            ++m_file->written;
        }
    }
}

void Hdf5Writer::finish(const RunContext& context)
{
    std::lock_guard lock(m_mutex);
    if (!m_file)
        return;
    const std::unique_ptr<File> f = std::move(m_file);
    const std::string partial = partial_path().string();
    const long long total = static_cast<long long>(f->done.size());
    {
        h5::SilenceErrors quiet;
        h5::check(H5Fflush(f->file.get(), H5F_SCOPE_GLOBAL), where, partial + ": flush");
        const bool closed = f->labels.close() && f->probabilities.close() && f->tile_done.close() &&
                            f->file.close();
        if (!closed)
            throw OutputError(where, partial + ": close: " + h5::error_stack());
    }
    if (f->written < total)
    {
        if (context.log != nullptr)
            context.log->warn("write.hdf5: {} of {} tiles written; the output stays at {}",
                              f->written, total, partial);
        return;
    }
    std::error_code ec;
    std::filesystem::rename(partial_path(), m_options.path, ec);
    if (ec)
        throw OutputError(where, partial + ": cannot rename to " + m_options.path.string() + ": " +
                                     ec.message());
    m_published = true;
}

std::unique_ptr<Writer> make_hdf5_writer(const WriteOptions& options, const OutputLayout& layout)
{
    return std::make_unique<Hdf5Writer>(options, layout);
}

} // namespace atrous
