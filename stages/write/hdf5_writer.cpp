// SPDX-License-Identifier: Apache-2.0
// Purpose: `write.hdf5`: file and dataset creation, block writes by hyperslab, publish by rename.
#include "hdf5_writer.hpp"

#include "stages/communicator.hpp"
#include "stages/error.hpp"
#include "stages/write/cf_metadata.hpp"
#include "stages/write/chunk_deflate.hpp"
#include "stages/write/h5_handle.hpp"
#include "stages/write/make_writer.hpp"
#include "stages/write/output_lock.hpp"
#include "stages/write/output_schema.hpp"
#include "stages/write/safe_file.hpp"

#include <fmt/format.h>
#include <hdf5.h>
#include <nlohmann/json.hpp>
#include <oneapi/tbb/parallel_for.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <optional>
#include <span>
#include <unistd.h>

namespace atrous
{

namespace
{

constexpr const char* where = "write.hdf5";
using schema::nodata_u8;

std::filesystem::path partial_of(const std::filesystem::path& path)
{
    return std::filesystem::path(path.string() + ".partial");
}

/// A leftover of a killed run at one of the writer's temporary names: an HDF5 file (its superblock
/// is written right after creation) or an empty one.
const safe_file::Recognizer& hdf5_leftover()
{
    static const safe_file::Recognizer ours =
        safe_file::empty_or_starting_with(std::string(safe_file::hdf5_signature));
    return ours;
}

std::filesystem::path staging_of(const std::filesystem::path& path)
{
    return std::filesystem::path(path.string() + ".partial.new");
}

std::filesystem::path packing_of(const std::filesystem::path& path)
{
    return std::filesystem::path(path.string() + ".packing");
}

/// Fails before anything is written when the output cannot be created, naming the culprit: the
/// directory, the output itself when it is no regular file (a device, FIFO, link, ...).
void check_target(const std::filesystem::path& path)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    if (!fs::exists(dir, ec))
        throw OutputError(where, dir.string() + ": no such directory");
    if (!fs::is_directory(dir, ec))
        throw OutputError(where, dir.string() + ": not a directory");
    if (safe_file::entry(path).kind == safe_file::Entry::Kind::directory)
        throw OutputError(where, path.string() + ": is a directory");
    safe_file::require_replaceable(path, where);
}

/// Then (under the lock): the temporary names free or atrous' leftovers, and the directory
/// writable (a real probe: access() says yes to root even on read-only places).
void probe_target(const std::filesystem::path& path)
{
    namespace fs = std::filesystem;
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    safe_file::require_free_or_leftover(packing_of(path), hdf5_leftover(), where);
    // The probe is the staging name (never the partial file: that may be resumed).
    const fs::path staging = staging_of(path);
    safe_file::clear_leftover(staging, hdf5_leftover(), where);
    const int fd =
        ::open(staging.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
    {
        const int err = errno;
        if (err == EACCES || err == EPERM || err == EROFS)
            throw OutputError(where,
                              dir.string() + ": not writable (" + safe_file::errno_text(err) + ")");
        throw OutputError(where, staging.string() + ": " + safe_file::errno_text(err));
    }
    ::close(fd);
    ::unlink(staging.c_str());
}

hsize_t chunk_edge(int edge, int dim)
{
    return static_cast<hsize_t>(schema::chunk_edge(edge, dim));
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

namespace
{

/// An open output file and its datasets.
struct OutputFile
{
    h5::Handle file;
    h5::Handle labels;              // /mask or /class
    h5::Handle probabilities;       // /probability or /class_probability; invalid when none
    h5::Handle tile_done;           // /progress/tile_done
    std::vector<std::uint8_t> done; // per tile
    long long written = 0;          // tiles marked done in this file (all ranks: after finish)
    bool mpi = false;               // opened with the MPI-IO driver (collective close)
};

} // namespace

/// The open partial file; only touched under Hdf5Writer::m_mutex.
struct Hdf5Writer::File : OutputFile
{
    using Clock = std::chrono::steady_clock;
    /// Tiles whose data is written but not yet known durable: marked at the next commit().
    std::vector<TileId> unsynced;
    /// MPI-IO: a POSIX descriptor of the same file for fsync (MPI_File_sync is collective).
    int sync_fd = -1;
    Clock::time_point last_commit = Clock::now();
    double progress_seconds = 0; // commit(): flush + fsync + marks
    double last_cost = 0;        // seconds the last commit took
    long long commits = 0;
    ~File()
    {
        if (sync_fd >= 0)
            ::close(sync_fd);
    }
};

namespace
{

namespace fs = std::filesystem;

/// partial: contiguous, allocated and filled at creation, no filters (block writes then never
/// touch metadata). Else the published layout: chunked (when `chunk` is given), filters.
h5::Handle create_dataset(hid_t file, const char* name, hid_t type,
                          const std::vector<hsize_t>& dims, const std::vector<hsize_t>& chunk,
                          const void* fill, const WriteOptions& o, bool direct, bool partial)
{
    h5::Handle space =
        h5::check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), where,
                  std::string(name) + ": H5Screate_simple");
    h5::Handle dcpl = h5::check(H5Pcreate(H5P_DATASET_CREATE), where, "H5Pcreate");
    if (partial)
    {
        h5::check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), where, "H5Pset_layout");
        h5::check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), where, "H5Pset_alloc_time");
    }
    else if (!chunk.empty())
    {
        h5::check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), where,
                  std::string(name) + ": H5Pset_chunk");
        if (o.compression == "deflate")
        {
            h5::check(H5Pset_shuffle(dcpl.get()), where, "H5Pset_shuffle");
            h5::check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(o.compression_level)), where,
                      "H5Pset_deflate");
        }
    }
    h5::check(H5Pset_fill_value(dcpl.get(), type, fill), where, "H5Pset_fill_value");
    h5::check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_IFSET), where, "H5Pset_fill_time");
    // No chunk cache where blocks are whole chunks (spatial: a block is a tile core, a chunk is a
    // tile): each H5Dwrite compresses and writes its chunks at once, so a write error (disk full)
    // surfaces in the call and leaves no dirty chunk behind for close() to retry.
    h5::Handle dapl = h5::check(H5Pcreate(H5P_DATASET_ACCESS), where, "H5Pcreate");
    if (direct && !partial)
        h5::check(H5Pset_chunk_cache(dapl.get(), 0, 0, 1.0), where, "H5Pset_chunk_cache");
    return h5::check(H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), dapl.get()),
                     where, std::string("create ") + name);
}

std::string fingerprint_json(const WriteOptions& o)
{
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& [field, value] : o.fingerprint)
        j[field] = value;
    return j.dump();
}

/// The first field that differs between a stored fingerprint (JSON) and this run's, as
/// "<field>: <stored> in the file, <now> now"; empty when they match.
std::string fingerprint_difference(const std::string& stored_json, const WriteOptions& o)
{
    nlohmann::ordered_json stored;
    try
    {
        stored = nlohmann::ordered_json::parse(stored_json);
    }
    catch (const std::exception&)
    {
        return "fingerprint: unreadable in the file";
    }
    if (!stored.is_object())
        return "fingerprint: not an object in the file";
    const auto shown = [](const std::string& v)
    { return v.size() > 80 ? "'" + v.substr(0, 77) + "...'" : "'" + v + "'"; };
    for (const auto& [field, value] : o.fingerprint)
    {
        const auto it = stored.find(field);
        if (it == stored.end() || !it->is_string())
            return field + ": absent in the file, " + shown(value) + " now";
        if (it->get<std::string>() != value)
            return field + ": " + shown(it->get<std::string>()) + " in the file, " + shown(value) +
                   " now";
    }
    for (const auto& [field, value] : stored.items())
    {
        const std::string& name = field; // clang 14 cannot capture a structured binding
        const bool known = std::any_of(o.fingerprint.begin(), o.fingerprint.end(),
                                       [&](const auto& f) { return f.first == name; });
        if (!known)
            return field + ": " +
                   shown(value.is_string() ? value.get<std::string>() : value.dump()) +
                   " in the file, absent now";
    }
    return "";
}

std::optional<std::string> read_string_attribute(hid_t obj, const char* name)
{
    if (H5Aexists(obj, name) <= 0)
        return std::nullopt;
    h5::Handle attr = h5::check(H5Aopen(obj, name, H5P_DEFAULT), where, name);
    h5::Handle type = h5::check(H5Aget_type(attr.get()), where, name);
    if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) <= 0)
        return std::nullopt;
    h5::Handle mem = h5::check(H5Tcopy(H5T_C_S1), where, "H5Tcopy");
    h5::check(H5Tset_size(mem.get(), H5T_VARIABLE), where, "H5Tset_size");
    h5::check(H5Tset_cset(mem.get(), H5T_CSET_UTF8), where, "H5Tset_cset");
    char* text = nullptr;
    h5::check(H5Aread(attr.get(), mem.get(), &text), where, name);
    std::string out = text ? text : "";
    h5::Handle space = h5::check(H5Aget_space(attr.get()), where, name);
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, &text);
    return out;
}

/// Datasets, attributes and provenance of an output file (partial or published layout).
void create_layout(OutputFile& f, const WriteOptions& o, const OutputLayout& l, bool partial)
{
    const hid_t root = f.file.get();
    const std::uint8_t fill_u8 = nodata_u8;
    const float fill_f32 = schema::nodata_f32;
    const hsize_t channels = static_cast<hsize_t>(l.channels);
    // Spatial: image pixels chunked by tile; classifier: the tile grid, chunks of <= 64 x 64 cells
    // (cell-by-cell writes go through the default chunk cache).
    const int height = l.spatial ? l.image_height : l.rows;
    const int width = l.spatial ? l.image_width : l.columns;
    const int chunk = l.spatial ? l.tile_size : schema::class_grid_chunk;
    const hsize_t ch = chunk_edge(chunk, height);
    const hsize_t cw = chunk_edge(chunk, width);
    const std::vector<hsize_t> dims2{static_cast<hsize_t>(height), static_cast<hsize_t>(width)};
    const std::vector<hsize_t> dims3{channels, dims2[0], dims2[1]};

    f.labels = create_dataset(root, l.spatial ? schema::mask : schema::class_grid, H5T_STD_U8LE,
                              dims2, {ch, cw}, &fill_u8, o, l.spatial, partial);
    write_u8_attribute(f.labels.get(), schema::fill_value, nodata_u8);
    write_u8_attribute(f.labels.get(), schema::nodata, nodata_u8);
    write_attribute(f.labels.get(), schema::classes, H5T_NATIVE_INT, H5T_STD_I32LE, &l.channels, 0);
    if (l.channels == 1)
        write_double_attribute(f.labels.get(), schema::threshold, o.threshold);
    write_string_attribute(f.labels.get(), schema::description,
                           l.channels == 1 ? "1 where p >= threshold, 0 elsewhere, 255 nodata"
                                           : "class index (argmax), 255 nodata");
    if (!l.spatial && l.geotransform)
    {
        // The class grid's own georeferencing: one cell per tile.
        std::array<double, 6> gt = *l.geotransform;
        for (const int i : {1, 2, 4, 5})
            gt[static_cast<std::size_t>(i)] *= l.tile_size;
        write_attribute(f.labels.get(), schema::geotransform, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE,
                        gt.data(), 6);
    }

    const char* prob_name = l.spatial ? schema::probability : schema::class_probability;
    if (o.probabilities == ProbabilityFormat::uint8)
    {
        f.probabilities = create_dataset(root, prob_name, H5T_STD_U8LE, dims3, {1, ch, cw},
                                         &fill_u8, o, l.spatial, partial);
        write_u8_attribute(f.probabilities.get(), schema::fill_value, nodata_u8);
        write_u8_attribute(f.probabilities.get(), schema::nodata, nodata_u8);
        write_double_attribute(f.probabilities.get(), schema::scale_factor,
                               schema::u8_probability_scale);
    }
    else if (o.probabilities == ProbabilityFormat::float32)
    {
        f.probabilities = create_dataset(root, prob_name, H5T_IEEE_F32LE, dims3, {1, ch, cw},
                                         &fill_f32, o, l.spatial, partial);
        write_float_attribute(f.probabilities.get(), schema::fill_value, fill_f32);
    }

    {
        h5::Handle group = h5::check(
            H5Gcreate2(root, schema::progress_group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), where,
            "create /progress");
        const std::uint8_t zero = 0;
        const hsize_t tiles = static_cast<hsize_t>(l.rows) * static_cast<hsize_t>(l.columns);
        WriteOptions plain = o;
        plain.compression = "none";
        f.tile_done = create_dataset(root, schema::tile_done, H5T_STD_U8LE, {tiles}, {}, &zero,
                                     plain, false, partial);
        write_attribute(f.tile_done.get(), schema::tile_columns, H5T_NATIVE_INT, H5T_STD_I32LE,
                        &l.columns, 0);
        write_attribute(f.tile_done.get(), schema::tile_rows, H5T_NATIVE_INT, H5T_STD_I32LE,
                        &l.rows, 0);
        f.done.assign(static_cast<std::size_t>(tiles), 0);
    }

    if (l.geotransform)
        write_attribute(root, schema::geotransform, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE,
                        l.geotransform->data(), 6);
    write_string_attribute(root, schema::crs_wkt, l.crs_wkt);
    write_string_attribute(root, schema::atrous_version, ATROUS_VERSION);
    write_string_attribute(root, schema::model_sha256, o.model_sha256);
    write_string_attribute(root, schema::config_yaml, o.config_yaml);
    write_string_attribute(root, schema::fingerprint, fingerprint_json(o));
}

/// The run's ranks; a context with several ranks and none is a pipeline bug.
Communicator& communicator_of(const RunContext& context)
{
    if (context.comm == nullptr)
        throw Error("write.hdf5",
                    "a run of " + std::to_string(context.ranks) + " ranks without a communicator");
    return *context.comm;
}

h5::Handle file_access(bool mpi)
{
    h5::Handle fapl = h5::check(H5Pcreate(H5P_FILE_ACCESS), where, "H5Pcreate");
    if (mpi)
    {
#ifdef H5_HAVE_PARALLEL
        h5::check(H5Pset_fapl_mpio(fapl.get(), MPI_COMM_WORLD, MPI_INFO_NULL), where,
                  "H5Pset_fapl_mpio");
#else
        throw Error(where, "several ranks need parallel HDF5 (MPI-IO); this atrous was built "
                           "without MPI");
#endif
    }
    else
        h5::check(H5Pset_fapl_sec2(fapl.get()), where, "H5Pset_fapl_sec2");
    // No data sieve buffer: every raw write goes to the file system when H5Dwrite returns.
    h5::check(H5Pset_sieve_buf_size(fapl.get(), 0), where, "H5Pset_sieve_buf_size");
    return fapl;
}

void write_hyperslab(hid_t dataset, hid_t mem_type, const std::vector<hsize_t>& start,
                     const std::vector<hsize_t>& count, const void* data, const std::string& what);

/// fsync(2) of an open HDF5 file through its sec2 driver's descriptor (H5Fget_vfd_handle).
void sync_file(hid_t file, const std::string& what)
{
    void* handle = nullptr;
    h5::check(H5Fget_vfd_handle(file, H5P_DEFAULT, &handle), where, what + ": H5Fget_vfd_handle");
    if (handle == nullptr)
        throw OutputError(where, what + ": fsync: HDF5 gave no file descriptor");
    if (::fsync(*static_cast<int*>(handle)) != 0)
    {
        const int err = errno;
        throw OutputError(where, what + ": fsync: " + safe_file::errno_text(err));
    }
}

/// Writes 1 into tile_done at each id, one contiguous hyperslab per run of consecutive ids (no
/// scattered selection: under MPI-IO that could become a read-modify-write of bytes another
/// rank marks).
void mark_done(hid_t tile_done, std::vector<TileId> ids, const std::string& what)
{
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    const std::vector<std::uint8_t> ones(ids.size(), 1);
    for (std::size_t a = 0; a < ids.size();)
    {
        std::size_t b = a + 1;
        while (b < ids.size() && ids[b] == ids[b - 1] + 1)
            ++b;
        write_hyperslab(tile_done, H5T_NATIVE_UINT8, {static_cast<hsize_t>(ids[a])},
                        {static_cast<hsize_t>(b - a)}, ones.data(), what + ": progress");
        a = b;
    }
}

/// Opens the datasets of an existing output; false (and why) when one is missing or does not
/// fit the layout.
bool open_layout(OutputFile& f, const WriteOptions& o, const OutputLayout& l, std::string& why)
{
    const hid_t root = f.file.get();
    const char* labels = l.spatial ? schema::mask : schema::class_grid;
    const char* probs = l.spatial ? schema::probability : schema::class_probability;
    const auto open = [&](const char* name, h5::Handle& out) -> bool
    {
        if (H5Lexists(root, schema::progress_group, H5P_DEFAULT) <= 0 &&
            std::strchr(name, '/') != nullptr)
            return false;
        if (H5Lexists(root, name, H5P_DEFAULT) <= 0)
            return false;
        out = h5::Handle(H5Dopen2(root, name, H5P_DEFAULT));
        return static_cast<bool>(out);
    };
    if (!open(labels, f.labels))
        return why = std::string("no /") + labels, false;
    if (o.probabilities != ProbabilityFormat::none && !open(probs, f.probabilities))
        return why = std::string("no /") + probs, false;
    if (!open(schema::tile_done, f.tile_done))
        return why = "no /progress/tile_done", false;
    const hsize_t tiles = static_cast<hsize_t>(l.rows) * static_cast<hsize_t>(l.columns);
    h5::Handle space = h5::Handle(H5Dget_space(f.tile_done.get()));
    hsize_t n = 0;
    if (!space || H5Sget_simple_extent_ndims(space.get()) != 1 ||
        H5Sget_simple_extent_dims(space.get(), &n, nullptr) < 0 || n != tiles)
        return why = "/progress/tile_done does not have " + std::to_string(tiles) + " tiles", false;
    f.done.assign(static_cast<std::size_t>(tiles), 0);
    if (H5Dread(f.tile_done.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, f.done.data()) <
        0)
        return why = "/progress/tile_done unreadable", false;
    f.written = std::count_if(f.done.begin(), f.done.end(), [](std::uint8_t d) { return d != 0; });
    return true;
}

/// What an existing file (partial or published) holds for this run.
struct Inspection
{
    bool usable = false;            // opens, has every dataset and a fingerprint
    bool atrous = false;            // an HDF5 file with atrous' fingerprint attribute
    std::string why;                // when not usable
    std::string difference;         // first fingerprint field that differs; empty = same run
    std::vector<std::uint8_t> done; // tile_done
};

Inspection inspect(const fs::path& path, const WriteOptions& o, const OutputLayout& l)
{
    Inspection r;
    OutputFile f;
    h5::Handle fapl = file_access(false);
    f.file = h5::Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
    if (!f.file)
    {
        r.why = "not an HDF5 file HDF5 can open (" + h5::error_stack() + ")";
        return r;
    }
    const std::optional<std::string> stored =
        read_string_attribute(f.file.get(), schema::fingerprint);
    if (!stored)
    {
        r.why = "no fingerprint attribute";
        return r;
    }
    r.atrous = true;
    r.difference = fingerprint_difference(*stored, o);
    if (!r.difference.empty())
    {
        r.usable = true;
        return r;
    }
    if (!open_layout(f, o, l, r.why))
        return r;
    r.usable = true;
    r.done = std::move(f.done);
    return r;
}

/// Why an existing regular <path> may not be replaced by this run; empty when it may.
/// `resuming`: a partial file of this very run exists (it was allowed to replace <path>).
std::string replacement_refusal(const WriteOptions& o, const Inspection& existing, bool resuming)
{
    if (o.force)
        return "";
    if (existing.atrous)
    {
        if (o.restart || resuming || existing.difference.empty())
            return "";
        return "an atrous output of a different run (" + existing.difference +
               "); run with --restart to replace it";
    }
    return "exists and is not an atrous output (" + existing.why +
           "); atrous does not replace it: remove it, choose another output.path, or run with "
           "--force";
}

/// Creates `path` as a new HDF5 file: a leftover of a killed run there is removed first, then
/// H5F_ACC_EXCL (open with O_CREAT | O_EXCL: never through a link, never over a file). The
/// superblock is written at once, so that a leftover of this file is recognisable.
h5::Handle create_hdf5(const fs::path& path)
{
    safe_file::clear_leftover(path, hdf5_leftover(), where);
    h5::Handle fapl = file_access(false);
    h5::Handle file = h5::check(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get()),
                                where, path.string() + ": cannot create");
    h5::check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), where, path.string() + ": flush");
    return file;
}

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

void read_hyperslab(hid_t dataset, hid_t mem_type, const std::vector<hsize_t>& start,
                    const std::vector<hsize_t>& count, void* data, const std::string& what)
{
    h5::Handle file_space = h5::check(H5Dget_space(dataset), where, what + ": H5Dget_space");
    h5::check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
                                  count.data(), nullptr),
              where, what + ": H5Sselect_hyperslab");
    h5::Handle mem_space =
        h5::check(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), where,
                  what + ": H5Screate_simple");
    h5::check(H5Dread(dataset, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, data),
              where, what);
}

/// The chunk dimensions of `dataset` (chunked).
std::vector<hsize_t> chunk_dims(hid_t dataset, const std::string& what)
{
    h5::Handle dcpl =
        h5::check(H5Dget_create_plist(dataset), where, what + ": H5Dget_create_plist");
    std::vector<hsize_t> dims(3, 0);
    const int rank = H5Pget_chunk(dcpl.get(), 3, dims.data());
    if (rank < 0)
        throw OutputError(where, what + ": H5Pget_chunk: " + h5::error_stack());
    dims.resize(static_cast<std::size_t>(rank));
    return dims;
}

/// The spatial datasets of a complete partial file copied into the published ones chunk by chunk
/// (one tile core = one chunk), a row of tiles at a time: read, then (output.compression: deflate)
/// shuffled and deflated on every thread (shuffle_deflate: the bytes HDF5's filters would store),
/// then written in the order the H5Dwrite calls through the filters wrote them (H5Dwrite_chunk;
/// filter mask 0: every filter applied). The part of an edge chunk outside the image holds the
/// dataset's fill value, as HDF5 fills it.
void publish_chunks(const OutputFile& in, const OutputFile& out, const WriteOptions& o,
                    const OutputLayout& l, const std::string& what)
{
    const bool deflate = o.compression == "deflate";
    const bool f32 = o.probabilities == ProbabilityFormat::float32;
    const std::size_t prob_size = f32 ? 4 : 1;
    const hsize_t c = static_cast<hsize_t>(l.channels);
    const hsize_t height = static_cast<hsize_t>(l.image_height);
    const hsize_t width = static_cast<hsize_t>(l.image_width);
    const std::vector<hsize_t> mask_chunk = chunk_dims(out.labels.get(), what);
    const hsize_t ch = mask_chunk.at(0);
    const hsize_t cw = mask_chunk.at(1);
    struct Chunk
    {
        hid_t dataset;
        std::vector<hsize_t> offset;
        std::size_t element;
        std::vector<std::uint8_t> raw; // ch x cw elements, fill outside the image
        std::vector<std::uint8_t> packed;
    };
    // The fill of an element of `size` bytes (schema: nodata code, NaN for float32).
    const auto filled = [&](std::size_t size)
    {
        std::vector<std::uint8_t> raw(ch * cw * size);
        if (size == 1)
            std::fill(raw.begin(), raw.end(), nodata_u8);
        else
            for (std::size_t i = 0; i < ch * cw; ++i)
                std::memcpy(raw.data() + i * size, &schema::nodata_f32, size);
        return raw;
    };
    std::vector<std::uint8_t> block;
    for (hsize_t y = 0; y < height; y += ch)
    {
        std::vector<Chunk> chunks;
        const hsize_t h = std::min(ch, height - y);
        for (hsize_t x = 0; x < width; x += cw)
        {
            const hsize_t w = std::min(cw, width - x);
            // Reads a block (h x w) of `dataset` into a new chunk's rows.
            const auto add = [&](hid_t source, hid_t target, hid_t type, std::size_t size,
                                 std::vector<hsize_t> start, std::vector<hsize_t> count,
                                 std::vector<hsize_t> offset)
            {
                block.resize(h * w * size);
                read_hyperslab(source, type, start, count, block.data(), what);
                Chunk chunk{target, std::move(offset), size, filled(size), {}};
                for (hsize_t r = 0; r < h; ++r)
                    std::memcpy(chunk.raw.data() + r * cw * size, block.data() + r * w * size,
                                w * size);
                chunks.push_back(std::move(chunk));
            };
            add(in.labels.get(), out.labels.get(), H5T_NATIVE_UINT8, 1, {y, x}, {h, w}, {y, x});
            if (!in.probabilities)
                continue;
            for (hsize_t k = 0; k < c; ++k)
                add(in.probabilities.get(), out.probabilities.get(),
                    f32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8, prob_size, {k, y, x}, {1, h, w},
                    {k, y, x});
        }
        oneapi::tbb::parallel_for(std::size_t{0}, chunks.size(),
                                  [&](std::size_t i)
                                  {
                                      Chunk& chunk = chunks[i];
                                      chunk.packed =
                                          deflate
                                              ? shuffle_deflate(chunk.raw.data(), chunk.raw.size(),
                                                                chunk.element, o.compression_level)
                                              : std::move(chunk.raw);
                                  });
        for (const Chunk& chunk : chunks)
            h5::check(H5Dwrite_chunk(chunk.dataset, H5P_DEFAULT, 0, chunk.offset.data(),
                                     chunk.packed.size(), chunk.packed.data()),
                      where, what + ": H5Dwrite_chunk");
    }
}

/// Copies a complete partial file into `target` with the published layout (chunked by tile,
/// filters), block by block (one tile core = one chunk).
/// `created` is set once `target` exists as this run's file (so that a failure removes it).
void publish_copy(const fs::path& partial, const fs::path& target, const WriteOptions& o,
                  const OutputLayout& l, bool& created)
{
    OutputFile in;
    {
        h5::Handle fapl = file_access(false);
        in.file = h5::check(H5Fopen(partial.c_str(), H5F_ACC_RDONLY, fapl.get()), where,
                            partial.string() + ": cannot open");
    }
    std::string why;
    if (!open_layout(in, o, l, why))
        throw OutputError(where, partial.string() + ": " + why);
    OutputFile out;
    out.file = create_hdf5(target);
    created = true;
    create_layout(out, o, l, false);
    const std::string what = "publishing " + target.string();
    const hid_t prob_type =
        o.probabilities == ProbabilityFormat::float32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8;
    const std::size_t prob_size = o.probabilities == ProbabilityFormat::float32 ? 4 : 1;
    const hsize_t c = static_cast<hsize_t>(l.channels);
    if (l.spatial)
        publish_chunks(in, out, o, l, what);
    else
    {
        const hsize_t rows = static_cast<hsize_t>(l.rows);
        const hsize_t cols = static_cast<hsize_t>(l.columns);
        std::vector<std::uint8_t> buffer(rows * cols * c * prob_size);
        read_hyperslab(in.labels.get(), H5T_NATIVE_UINT8, {0, 0}, {rows, cols}, buffer.data(),
                       what);
        write_hyperslab(out.labels.get(), H5T_NATIVE_UINT8, {0, 0}, {rows, cols}, buffer.data(),
                        what);
        if (in.probabilities)
        {
            read_hyperslab(in.probabilities.get(), prob_type, {0, 0, 0}, {c, rows, cols},
                           buffer.data(), what);
            write_hyperslab(out.probabilities.get(), prob_type, {0, 0, 0}, {c, rows, cols},
                            buffer.data(), what);
        }
    }
    h5::check(H5Dwrite(out.tile_done.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                       in.done.data()),
              where, what + ": progress");
    // netCDF-4/CF (coordinates, grid mapping) only here: the partial file's metadata never
    // changes while tiles are written.
    write_cf_metadata(out.file.get(), out.labels.get(),
                      out.probabilities ? out.probabilities.get() : H5I_INVALID_HID, l);
    h5::check(H5Fflush(out.file.get(), H5F_SCOPE_GLOBAL), where, target.string() + ": flush");
    // Durable before the rename publishes it.
    sync_file(out.file.get(), target.string());
    const bool closed = out.labels.close() && out.probabilities.close() && out.tile_done.close() &&
                        out.file.close();
    if (!closed)
        throw OutputError(where, target.string() + ": close: " + h5::error_stack());
}

void warn(const RunContext& context, const std::string& message)
{
    if (context.log != nullptr)
        context.log->warn("{}", message);
}

} // namespace

Hdf5Writer::Hdf5Writer(WriteOptions options, OutputLayout layout)
    : m_options(std::move(options)), m_layout(std::move(layout))
{
}

Hdf5Writer::~Hdf5Writer()
{
    if (m_file)
    {
        h5::SilenceErrors quiet;
        if (m_file->mpi)
        {
            // Closing an MPI-IO file is collective: a rank unwinding alone would wait forever.
            // The process is about to abort; the partial file stays as the last write left it.
            m_file->labels.release();
            m_file->probabilities.release();
            m_file->tile_done.release();
            m_file->file.release();
        }
        m_file.reset(); // closes without publishing: "<path>.partial" stays
    }
}

std::vector<std::filesystem::path> Hdf5Writer::files_of(const std::filesystem::path& output)
{
    return {output, output.string() + ".lock", partial_of(output), staging_of(output),
            packing_of(output)};
}

std::filesystem::path Hdf5Writer::partial_path() const
{
    return partial_of(m_options.path);
}

long long Hdf5Writer::tiles_written() const
{
    std::lock_guard lock(m_mutex);
    return m_file ? m_file->written + static_cast<long long>(m_file->unsynced.size())
                  : m_written_at_finish;
}

std::vector<TileId> Hdf5Writer::done_tiles() const
{
    std::lock_guard lock(m_mutex);
    std::vector<TileId> out;
    for (std::size_t i = 0; i < m_done_at_start.size(); ++i)
    {
        if (m_done_at_start[i] != 0)
            out.push_back(static_cast<TileId>(i));
    }
    return out;
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
    if (l.image_width <= 0 || l.image_height <= 0 || l.channels <= 0 || l.tile_size <= 0 ||
        l.columns <= 0 || l.rows <= 0)
        throw Error(where, "bad layout: " + std::to_string(l.image_width) + "x" +
                               std::to_string(l.image_height) + ", " + std::to_string(l.channels) +
                               " channels, tile " + std::to_string(l.tile_size) + ", grid " +
                               std::to_string(l.columns) + "x" + std::to_string(l.rows));
    if (o.path.empty())
        throw ConfigError(where, "output.path: empty");
    const bool mpi = context.ranks > 1;
    const std::size_t tiles =
        static_cast<std::size_t>(l.rows) * static_cast<std::size_t>(l.columns);
    const fs::path partial = partial_path();

    std::lock_guard lock(m_mutex);
    h5::SilenceErrors quiet;
    // 0: fresh partial file, 1: resumed partial file, 2: <path> already complete.
    int state = 0;
    std::vector<std::uint8_t> done(tiles, 0);
    if (context.rank == 0)
    {
        // Refuse a second run on the same output before touching anything (rank 0 holds the
        // lock for the whole job).
        check_target(o.path);
        if (!m_lock)
            m_lock =
                OutputLock::acquire(o.path, where, [&](const std::string& m) { warn(context, m); });
        probe_target(o.path);
        const safe_file::Entry existing = safe_file::entry(o.path);
        std::optional<Inspection> final_file;
        if (existing.kind == safe_file::Entry::Kind::regular)
        {
            final_file = inspect(o.path, o, l);
            if (!o.restart && final_file->usable && final_file->difference.empty() &&
                std::all_of(final_file->done.begin(), final_file->done.end(),
                            [](std::uint8_t d) { return d != 0; }))
            {
                state = 2;
                done = final_file->done;
            }
        }
        if (state == 0)
        {
            // Resumed only when it is a regular file with one name: writing into it then changes
            // nothing else.
            const safe_file::Entry p = safe_file::entry(partial);
            if (p.kind != safe_file::Entry::Kind::absent &&
                p.kind != safe_file::Entry::Kind::regular)
                throw OutputError(where, partial.string() + ": is " + p.what +
                                             "; atrous resumes or replaces only a regular file "
                                             "(remove it)");
            if (p.kind == safe_file::Entry::Kind::regular && p.links != 1 && !o.restart)
                throw OutputError(where, partial.string() + ": has " + std::to_string(p.links) +
                                             " hard links; atrous resumes only a partial file "
                                             "with one name (remove the others, or run with "
                                             "--restart to start over)");
            if (p.kind == safe_file::Entry::Kind::regular && !o.restart)
            {
                // Another program's file there is kept (an HDF5 file HDF5 cannot open is taken
                // for a damaged partial file of atrous').
                if (!hdf5_leftover()(partial))
                    throw OutputError(where, partial.string() +
                                                 ": exists and is not an HDF5 file atrous left; "
                                                 "not resumed nor replaced (remove it, or run "
                                                 "with --restart to discard it)");
                const Inspection pi = inspect(partial, o, l);
                if (!pi.usable)
                    warn(context, std::string(where) + ": " + partial.string() +
                                      " cannot be resumed (" + pi.why + "); starting over");
                else if (!pi.difference.empty())
                    throw OutputError(
                        where, partial.string() + ": left by a different run, not resumed: " +
                                   pi.difference + "; run with --restart to discard it");
                else
                {
                    state = 1;
                    done = pi.done;
                }
            }
        }
        if (final_file && state != 2)
        {
            const std::string refusal = replacement_refusal(o, *final_file, state == 1);
            if (!refusal.empty())
                throw OutputError(where, o.path.string() + ": " + refusal);
            m_replaceable = existing.id;
        }
        if (state == 0)
        {
            // Made under another name and renamed once closed: a "<path>.partial" always has
            // its complete layout.
            const fs::path staging = staging_of(o.path);
            bool created = false; // remove only a file this run made
            try
            {
                File f;
                f.file = create_hdf5(staging);
                created = true;
                create_layout(f, o, l, true);
                const bool closed = f.labels.close() && f.probabilities.close() &&
                                    f.tile_done.close() && f.file.close();
                if (!closed)
                    throw OutputError(where, staging.string() + ": close: " + h5::error_stack());
                safe_file::rename_into_place(staging, partial, where);
                created = false;
            }
            catch (...)
            {
                if (created)
                    ::unlink(staging.c_str());
                throw;
            }
        }
    }
    if (mpi)
    {
        Communicator& comm = communicator_of(context);
        comm.broadcast(std::span(reinterpret_cast<std::uint8_t*>(&state), sizeof state), 0);
        comm.broadcast(done, 0);
    }
    m_done_at_start = done;
    m_resumed = state == 1;
    m_already_complete = state == 2;
    m_published = state == 2;
    if (state == 2)
        return;

    auto f = std::make_unique<File>();
    f->mpi = mpi;
    {
        h5::Handle fapl = file_access(mpi);
        f->file = h5::check(H5Fopen(partial.c_str(), H5F_ACC_RDWR, fapl.get()), where,
                            partial.string() + ": cannot open");
    }
    std::string why;
    if (!open_layout(*f, o, l, why))
        throw OutputError(where, partial.string() + ": " + why);
    f->done = done;
    f->written = std::count_if(done.begin(), done.end(), [](std::uint8_t d) { return d != 0; });
    if (mpi)
    {
        // fsync(2) on any descriptor of a file flushes its dirty pages, whichever descriptor
        // (here: MPI-IO's pwrite) wrote them; MPI_File_sync would be collective.
        f->sync_fd = ::open(partial.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (f->sync_fd < 0)
        {
            const int err = errno;
            // Collective close: give the identifiers up (the job aborts on this error).
            f->labels.release();
            f->probabilities.release();
            f->tile_done.release();
            f->file.release();
            throw OutputError(where,
                              partial.string() + ": cannot open for fsync: " + std::strerror(err));
        }
    }
    f->last_commit = File::Clock::now();
    m_file = std::move(f);
}

void Hdf5Writer::write(const OutputBlock& block)
{
    const OutputLayout& l = m_layout;
    const Window& r = block.region;
    const int width = l.spatial ? l.image_width : l.columns;
    const int height = l.spatial ? l.image_height : l.rows;
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
            prob_u8[k] =
                block.valid[k % plane] != 0
                    ? static_cast<std::uint8_t>(std::lround(p * schema::u8_probability_steps))
                    : nodata_u8;
        }
    }
    else if (m_options.probabilities == ProbabilityFormat::float32)
    {
        prob_f32.resize(block.probabilities.size());
        for (std::size_t k = 0; k < prob_f32.size(); ++k)
            prob_f32[k] = block.valid[k % plane] != 0 ? block.probabilities[k] : schema::nodata_f32;
    }

    const hsize_t y = static_cast<hsize_t>(r.y);
    const hsize_t x = static_cast<hsize_t>(r.x);
    const hsize_t h = static_cast<hsize_t>(r.height);
    const hsize_t w = static_cast<hsize_t>(r.width);
    std::lock_guard lock(m_mutex);
    if (!m_file)
        throw Error(where, "write() called before prepare(), after finish() or on a complete "
                           "output");
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
    // Marked later, by commit(), once the data is durable.
    for (const TileId id : block.tiles)
        m_file->unsynced.push_back(id);
    // Due after sync_interval_s, and never sooner than 100 times the last commit took, so that
    // recording progress stays near 1 % of the time even where fsync is slow (0: every block).
    const double interval = m_options.sync_interval_s > 0
                                ? std::max(m_options.sync_interval_s, 100.0 * m_file->last_cost)
                                : 0.0;
    const double since =
        std::chrono::duration<double>(File::Clock::now() - m_file->last_commit).count();
    if (since >= interval)
        commit(what);
}

void Hdf5Writer::commit(const std::string& what)
{
    File& f = *m_file;
    const auto t0 = File::Clock::now();
    if (!f.unsynced.empty())
    {
        // 1. The data of every unsynced tile reaches the disk (HDF5 keeps no raw data: the sieve
        //    buffer is off, and the partial file's metadata never changes).
        if (f.mpi)
        {
            if (::fsync(f.sync_fd) != 0)
            {
                const int err = errno;
                throw OutputError(where, what + ": fsync: " + safe_file::errno_text(err));
            }
        }
        else
        {
            h5::check(H5Fflush(f.file.get(), H5F_SCOPE_LOCAL), where, what + ": flush");
            sync_file(f.file.get(), what);
        }
        // 2. Only then are they marked done. The marks reach the disk with the next commit (or
        //    finish()); a mark lost in a crash only means the tile is computed again.
        mark_done(f.tile_done.get(), f.unsynced, what);
        for (const TileId id : f.unsynced)
        {
            auto& done = f.done[static_cast<std::size_t>(id)];
            if (done == 0)
            {
                done = 1;
                ++f.written;
            }
        }
        f.unsynced.clear();
        if (!f.mpi)
            h5::check(H5Fflush(f.file.get(), H5F_SCOPE_LOCAL), where, what + ": flush");
        ++f.commits;
    }
    const auto t1 = File::Clock::now();
    f.last_cost = std::chrono::duration<double>(t1 - t0).count();
    f.progress_seconds += f.last_cost;
    f.last_commit = t1;
}

double Hdf5Writer::progress_seconds() const
{
    std::lock_guard lock(m_mutex);
    return m_file ? m_file->progress_seconds : m_progress_at_finish;
}

long long Hdf5Writer::commits() const
{
    std::lock_guard lock(m_mutex);
    return m_file ? m_file->commits : m_commits_at_finish;
}

void Hdf5Writer::finish(const RunContext& context)
{
    std::lock_guard lock(m_mutex);
    if (!m_file)
        return;
    const std::string partial = partial_path().string();
    {
        // The last tiles: durable, marked, and the marks durable too.
        h5::SilenceErrors quiet;
        const bool any = !m_file->unsynced.empty();
        commit(partial + ": recording progress");
        if (any)
        {
            const auto t0 = File::Clock::now();
            if (m_file->mpi)
            {
                if (::fsync(m_file->sync_fd) != 0)
                {
                    const int err = errno;
                    throw OutputError(where, partial + ": fsync: " + safe_file::errno_text(err));
                }
            }
            else
            {
                sync_file(m_file->file.get(), partial);
            }
            m_file->progress_seconds +=
                std::chrono::duration<double>(File::Clock::now() - t0).count();
        }
    }
    const std::unique_ptr<File> f = std::move(m_file);
    m_progress_at_finish = f->progress_seconds;
    m_commits_at_finish = f->commits;
    const long long total = static_cast<long long>(f->done.size());
    {
        h5::SilenceErrors quiet;
        bool closed = true;
        if (!f->mpi)
            closed = H5Fflush(f->file.get(), H5F_SCOPE_GLOBAL) >= 0;
        closed = f->labels.close() && closed;
        closed = f->probabilities.close() && closed;
        closed = f->tile_done.close() && closed;
        closed = f->file.close() && closed; // collective under MPI
        if (f->mpi)
        {
            // Every rank's tiles: the union of what each marked.
            int ok = closed ? 1 : 0;
            Communicator& comm = communicator_of(context);
            comm.min(std::span(&ok, 1));
            comm.max(f->done);
            f->written = std::count_if(f->done.begin(), f->done.end(),
                                       [](std::uint8_t d) { return d != 0; });
            closed = ok == 1;
        }
        m_written_at_finish = f->written;
        if (!closed)
            throw OutputError(where, partial + ": close: " + h5::error_stack());
    }
    if (f->written < total)
    {
        if (context.rank == 0)
            warn(context, fmt::format("write.hdf5: {} of {} tiles written; the output stays at {}",
                                      f->written, total, partial));
        return;
    }
    if (context.rank == 0)
    {
        h5::SilenceErrors quiet;
        const fs::path& path = m_options.path;
        // Something may have appeared at <path> during the run: the rule of prepare() again.
        const safe_file::Entry now = safe_file::entry(path);
        safe_file::require_replaceable(path, where);
        if (now.kind == safe_file::Entry::Kind::regular &&
            !(m_replaceable && *m_replaceable == now.id))
        {
            const std::string refusal =
                replacement_refusal(m_options, inspect(path, m_options, m_layout), false);
            if (!refusal.empty())
                throw OutputError(where, path.string() + ": " + refusal +
                                             "; the complete result stays in " + partial);
        }
        const fs::path packing = packing_of(path);
        bool created = false; // remove only a file this run made
        try
        {
            publish_copy(partial_path(), packing, m_options, m_layout, created);
            safe_file::rename_into_place(packing, path, where);
        }
        catch (...)
        {
            if (created)
                ::unlink(packing.c_str());
            throw;
        }
        std::error_code ec;
        fs::remove(partial_path(), ec);
    }
    if (f->mpi)
        communicator_of(context).barrier();
    m_published = true;
}

std::unique_ptr<Writer> make_hdf5_writer(const WriteOptions& options, const OutputLayout& layout)
{
    return std::make_unique<Hdf5Writer>(options, layout);
}

} // namespace atrous
