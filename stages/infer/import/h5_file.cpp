// SPDX-License-Identifier: Apache-2.0
// Purpose: HDF5 C API wrapped for the Keras importer: collected error messages over the one HDF5
// handle (platform/h5_handle.hpp).
#include "h5_file.hpp"

#include "platform/h5_handle.hpp"
#include "stages/error.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <limits>
#include <memory>
#include <string_view>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace atrous::infer
{
namespace
{

using h5::Handle;

herr_t collect_one(unsigned /*n*/, const H5E_error2_t* err, void* client)
{
    auto* messages = static_cast<std::vector<std::string>*>(client);
    if (err->desc != nullptr && err->desc[0] != '\0')
        messages->emplace_back(err->desc);
    return 0;
}

/// Installed as HDF5's automatic error handler: records the failing call's stack instead of
/// printing it.
herr_t collect_stack(hid_t stack, void* client)
{
    auto* messages = static_cast<std::vector<std::string>*>(client);
    messages->clear();
    H5Ewalk2(stack, H5E_WALK_DOWNWARD, collect_one, client);
    return 0;
}

/// Keras stores weights inside the file; a virtual or external-storage dataset would make HDF5
/// read other files named by this one.
void check_storage(hid_t dataset, const std::string& where, const std::string& what)
{
    const Handle plist(H5Dget_create_plist(dataset));
    if (!plist)
        throw ModelError(where, what + ": cannot read its storage layout");
    if (H5Pget_layout(plist.get()) == H5D_VIRTUAL || H5Pget_external_count(plist.get()) != 0)
        throw ModelError(where, what + ": stored in other files (virtual or external dataset); "
                                       "weights inside the file expected");
}

bool is_compressed(hid_t dataset)
{
    const Handle plist(H5Dget_create_plist(dataset));
    return plist && H5Pget_layout(plist.get()) == H5D_CHUNKED && H5Pget_nfilters(plist.get()) > 0;
}

std::uint64_t decode_le(const unsigned char* p, std::size_t bytes)
{
    std::uint64_t v = 0;
    for (std::size_t i = std::min<std::size_t>(bytes, 8); i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/// HDF5 1.10's global heap reader (H5HG__cache_heap_deserialize) loops forever on a collection
/// whose object list does not advance (an object of size 0 at index 0) and runs off it on an
/// object larger than the collection. Variable-length strings (model_config, layer_names) live
/// in such collections, so every collection the file could hold (each "GCOL" signature of
/// version 1) is walked the same way first: a damaged one is a ModelError, not a hang.
void check_global_heaps(const unsigned char* bytes, std::size_t size, std::size_t sizeof_size,
                        const std::string& where)
{
    const std::string_view view(reinterpret_cast<const char*>(bytes), size);
    const std::uint64_t header = (8 + sizeof_size + 7) / 8 * 8; // signature, version, size
    const std::uint64_t object_header = 8 + sizeof_size;        // index, refs, reserved, size
    for (auto at = view.find("GCOL"); at != std::string_view::npos; at = view.find("GCOL", at + 1))
    {
        if (size - at < header || bytes[at + 4] != 1)
            continue; // HDF5 refuses it itself (short, or another version)
        const std::uint64_t heap_size = decode_le(bytes + at + 8, sizeof_size);
        const auto damaged = [&](const std::string& why)
        {
            return ModelError(where, "global heap at byte " + std::to_string(at) + ": " + why +
                                         "; damaged file");
        };
        if (heap_size > size - at)
            throw damaged(std::to_string(heap_size) + " bytes declared, past the end of the file");
        for (std::uint64_t offset = header;
             offset < heap_size && heap_size - offset >= object_header;)
        {
            const std::uint64_t left = heap_size - offset;
            const unsigned index = bytes[at + offset] | bytes[at + offset + 1] << 8;
            const std::uint64_t object = decode_le(bytes + at + offset + 8, sizeof_size);
            if (object > left)
                throw damaged("object " + std::to_string(index) + " of " + std::to_string(object) +
                              " bytes is larger than the heap");
            const std::uint64_t need = index > 0 ? object_header + (object + 7) / 8 * 8 : object;
            if (need == 0 || need > left)
                throw damaged("object " + std::to_string(index) + " of " + std::to_string(object) +
                              " bytes does not fit");
            offset += need;
        }
    }
}

/// check_global_heaps over the file at `path`, mapped read-only.
void check_global_heaps(const std::filesystem::path& path, std::size_t sizeof_size,
                        const std::string& where)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return; // H5Fopen read it a moment ago; HDF5 reports what follows
    struct stat st = {};
    if (::fstat(fd, &st) != 0 || st.st_size <= 0)
    {
        ::close(fd);
        return;
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED)
        return;
    const std::unique_ptr<void, std::function<void(void*)>> unmap(map, [size](void* p)
                                                                  { ::munmap(p, size); });
    check_global_heaps(static_cast<const unsigned char*>(map), size, sizeof_size, where);
}

/// HDF5 looks for its superblock signature at byte 0, 512, 1024, 2048, ... (a user block may
/// precede it); H5Fis_hdf5 does the same for a file on disk.
bool has_hdf5_signature(const std::vector<unsigned char>& image)
{
    static constexpr unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (std::size_t at = 0; at + sizeof signature <= image.size(); at = at == 0 ? 512 : at * 2)
        if (std::equal(std::begin(signature), std::end(signature),
                       image.begin() + static_cast<std::ptrdiff_t>(at)))
            return true;
    return false;
}

std::size_t sizeof_size_of(hid_t file)
{
    std::size_t sizeof_size = 8;
    const Handle plist(H5Fget_create_plist(file));
    if (plist)
        H5Pget_sizes(plist.get(), nullptr, &sizeof_size);
    return sizeof_size;
}

} // namespace

struct H5File::State
{
    H5E_auto2_t saved_func = nullptr;
    void* saved_data = nullptr;
    std::vector<std::string> messages; // the last failed call's HDF5 stack, outermost first
    hid_t file = -1;

    /// HDF5's reason for the last failure: the innermost messages are the specific ones
    /// ("truncated file: eof = ...", "file signature not found").
    std::string reason() const
    {
        if (messages.empty())
            return "";
        std::string text = messages.back();
        if (messages.size() >= 2 && messages[messages.size() - 2] != text)
            text = messages[messages.size() - 2] + ": " + text;
        return " (HDF5: " + text + ")";
    }

    /// The file's size in bytes: what its datasets and attributes can really hold.
    hsize_t file_bytes() const
    {
        hsize_t size = 0;
        return H5Fget_filesize(file, &size) < 0 ? 0 : size;
    }
};

H5File::H5File(const std::filesystem::path& path)
    : m_where("model " + path.string()), m_state(std::make_unique<State>())
{
    H5Eget_auto2(H5E_DEFAULT, &m_state->saved_func, &m_state->saved_data);
    H5Eset_auto2(H5E_DEFAULT, collect_stack, &m_state->messages);
    try
    {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec))
            throw ModelError(m_where, "no such file");
        if (std::filesystem::is_directory(path, ec))
            throw ModelError(m_where, "is a directory, not an HDF5 file");
        const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
        if (is_hdf5 == 0)
            throw ModelError(m_where, "not an HDF5 file (no HDF5 signature)");
        m_state->file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        if (m_state->file < 0)
            throw ModelError(m_where,
                             "cannot be opened as HDF5; truncated or damaged?" + m_state->reason());
        check_global_heaps(path, sizeof_size_of(m_state->file), m_where);
    }
    catch (...)
    {
        // The destructor does not run for a constructor that throws: close and restore here,
        // or HDF5 keeps an error handler pointing into the freed State.
        if (m_state->file >= 0)
            H5Fclose(m_state->file);
        H5Eset_auto2(H5E_DEFAULT, m_state->saved_func, m_state->saved_data);
        throw;
    }
}

H5File::H5File(const std::vector<unsigned char>& image, std::string where)
    : m_where(std::move(where)), m_state(std::make_unique<State>())
{
    H5Eget_auto2(H5E_DEFAULT, &m_state->saved_func, &m_state->saved_data);
    H5Eset_auto2(H5E_DEFAULT, collect_stack, &m_state->messages);
    try
    {
        if (!has_hdf5_signature(image))
            throw ModelError(m_where, "not an HDF5 file (no HDF5 signature)");
        const Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
        // The core driver serves the file from memory; no backing store: nothing touches disk.
        if (!fapl || H5Pset_fapl_core(fapl.get(), 1 << 20, 0) < 0 ||
            H5Pset_file_image(fapl.get(), const_cast<unsigned char*>(image.data()), image.size()) <
                0)
            throw ModelError(m_where, "cannot hand the HDF5 image to HDF5" + m_state->reason());
        // The name only labels HDF5's own messages: with a file image the core driver opens
        // nothing.
        m_state->file = H5Fopen("atrous-in-memory.h5", H5F_ACC_RDONLY, fapl.get());
        if (m_state->file < 0)
            throw ModelError(m_where,
                             "cannot be opened as HDF5; truncated or damaged?" + m_state->reason());
        check_global_heaps(image.data(), image.size(), sizeof_size_of(m_state->file), m_where);
    }
    catch (...)
    {
        if (m_state->file >= 0)
            H5Fclose(m_state->file);
        H5Eset_auto2(H5E_DEFAULT, m_state->saved_func, m_state->saved_data);
        throw;
    }
}

H5File::~H5File()
{
    if (m_state->file >= 0)
        H5Fclose(m_state->file);
    H5Eset_auto2(H5E_DEFAULT, m_state->saved_func, m_state->saved_data);
}

bool H5File::exists(const std::string& object_path) const
{
    if (object_path.empty() || object_path == "/")
        return true;
    // H5Lexists fails (rather than answering false) when an intermediate group is missing, so
    // walk the path one component at a time.
    std::size_t pos = object_path[0] == '/' ? 1 : 0;
    while (pos <= object_path.size())
    {
        const auto next = object_path.find('/', pos);
        const std::string prefix =
            object_path.substr(0, next == std::string::npos ? object_path.size() : next);
        if (H5Lexists(m_state->file, prefix.c_str(), H5P_DEFAULT) <= 0)
            return false;
        if (next == std::string::npos)
            break;
        pos = next + 1;
    }
    return true;
}

bool H5File::has_attribute(const std::string& object_path, const std::string& name) const
{
    if (!exists(object_path))
        return false;
    const htri_t found =
        H5Aexists_by_name(m_state->file, object_path.c_str(), name.c_str(), H5P_DEFAULT);
    if (found > 0)
        return true;
    // Keras splits attributes over 64 KiB into name0, name1, ...
    return H5Aexists_by_name(m_state->file, object_path.c_str(), (name + "0").c_str(),
                             H5P_DEFAULT) > 0;
}

namespace
{

/// H5Literate's callback: collects the member names. (HDF5 1.12 renamed the link info type.)
template <typename LinkInfo>
herr_t collect_name(hid_t /*group*/, const char* name, const LinkInfo* /*info*/, void* names)
{
    static_cast<std::vector<std::string>*>(names)->emplace_back(name);
    return 0;
}

} // namespace

std::vector<std::string> H5File::members(const std::string& group_path) const
{
    if (!exists(group_path))
        throw ModelError(m_where, "group " + group_path + " is missing");
    const Handle group(H5Gopen2(m_state->file, group_path.c_str(), H5P_DEFAULT));
    if (!group)
        throw ModelError(m_where, group_path + " is not a group" + m_state->reason());
    // One pass over the links (by-index lookups would rebuild the name index per member).
    std::vector<std::string> names;
    hsize_t at = 0;
#if H5_VERSION_GE(1, 12, 0)
    const herr_t status = H5Literate2(group.get(), H5_INDEX_NAME, H5_ITER_INC, &at,
                                      collect_name<H5L_info2_t>, &names);
#else
    const herr_t status =
        H5Literate(group.get(), H5_INDEX_NAME, H5_ITER_INC, &at, collect_name<H5L_info_t>, &names);
#endif
    if (status < 0)
        throw ModelError(m_where,
                         "group " + group_path + ": cannot list its members" + m_state->reason());
    return names;
}

namespace
{

std::vector<std::string> read_strings(hid_t attr, hsize_t file_bytes, const std::string& where,
                                      const std::string& what,
                                      const std::function<std::string()>& reason)
{
    const Handle type(H5Aget_type(attr));
    const Handle space(H5Aget_space(attr));
    if (!type || !space)
        throw ModelError(where, what + ": cannot read its type" + reason());
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    if (count < 0)
        throw ModelError(where, what + ": cannot read its size" + reason());
    // Keras writes an empty list (a layer without weights) as an empty float64 array.
    if (count == 0 || H5Sget_simple_extent_type(space.get()) == H5S_NULL)
        return {};
    if (H5Tget_class(type.get()) != H5T_STRING)
        throw ModelError(where, what + ": strings expected, another type found");
    // Every string takes at least its file type's size (a fixed length, or a heap reference)
    // in the file: a header declaring more is damaged and must not size our buffers.
    const hsize_t type_size = std::max<hsize_t>(H5Tget_size(type.get()), 1);
    if (static_cast<hsize_t>(count) > file_bytes / type_size)
        throw ModelError(where, what + ": " + std::to_string(count) + " strings of " +
                                    std::to_string(type_size) + " bytes declared, more than the " +
                                    std::to_string(file_bytes) + "-byte file holds");
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(count));
    if (H5Tis_variable_str(type.get()) > 0)
    {
        const Handle mem(H5Tcopy(H5T_C_S1));
        H5Tset_size(mem.get(), H5T_VARIABLE);
        H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
        std::vector<char*> buffer(static_cast<std::size_t>(count), nullptr);
        if (H5Aread(attr, mem.get(), buffer.data()) < 0)
            throw ModelError(where, what + ": cannot read it" + reason());
        for (char* s : buffer)
            out.emplace_back(s != nullptr ? s : "");
        H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, buffer.data());
    }
    else
    {
        const std::size_t size = H5Tget_size(type.get());
        std::vector<char> buffer(size * static_cast<std::size_t>(count) + 1, '\0');
        if (H5Aread(attr, type.get(), buffer.data()) < 0)
            throw ModelError(where, what + ": cannot read it" + reason());
        for (hssize_t i = 0; i < count; ++i)
        {
            const char* begin = buffer.data() + static_cast<std::size_t>(i) * size;
            // Fixed-length strings are NUL-terminated or NUL-padded (h5py writes padded ones).
            out.emplace_back(begin, strnlen(begin, size));
        }
    }
    return out;
}

} // namespace

std::vector<std::string> H5File::string_attribute(const std::string& object_path,
                                                  const std::string& name) const
{
    const std::string what = "attribute '" + name + "' of " + object_path;
    const auto reason = [this] { return m_state->reason(); };
    const auto read_one = [&](const std::string& attr_name)
    {
        const Handle attr(H5Aopen_by_name(m_state->file, object_path.c_str(), attr_name.c_str(),
                                          H5P_DEFAULT, H5P_DEFAULT));
        if (!attr)
            throw ModelError(m_where, what + ": cannot open it" + reason());
        return read_strings(attr.get(), m_state->file_bytes(), m_where, what, reason);
    };
    if (!exists(object_path))
        throw ModelError(m_where, object_path + " is missing");
    if (H5Aexists_by_name(m_state->file, object_path.c_str(), name.c_str(), H5P_DEFAULT) > 0)
        return read_one(name);
    std::vector<std::string> joined;
    for (int chunk = 0;; ++chunk)
    {
        const std::string chunk_name = name + std::to_string(chunk);
        if (H5Aexists_by_name(m_state->file, object_path.c_str(), chunk_name.c_str(),
                              H5P_DEFAULT) <= 0)
        {
            if (chunk == 0)
                throw ModelError(m_where, what + " is missing");
            return joined;
        }
        auto part = read_one(chunk_name);
        joined.insert(joined.end(), part.begin(), part.end());
    }
}

H5FloatArray H5File::float_dataset(const std::string& dataset_path) const
{
    const std::string what = "dataset " + dataset_path;
    if (!exists(dataset_path))
        throw ModelError(m_where, what + " is missing");
    const Handle dataset(H5Dopen2(m_state->file, dataset_path.c_str(), H5P_DEFAULT));
    if (!dataset)
        throw ModelError(m_where, what + ": cannot open it" + m_state->reason());
    const Handle type(H5Dget_type(dataset.get()));
    const Handle space(H5Dget_space(dataset.get()));
    if (!type || !space)
        throw ModelError(m_where, what + ": cannot read its type" + m_state->reason());
    if (H5Tget_class(type.get()) != H5T_FLOAT)
        throw ModelError(m_where, what + ": floating-point values expected, another type found");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0)
        throw ModelError(m_where, what + ": cannot read its shape" + m_state->reason());
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    check_storage(dataset.get(), m_where, what);
    // The declared shape must fit in what the file can hold (compressed chunks: at most 1100
    // times their size, deflate's limit) before it sizes the buffer: a damaged or hostile header
    // may declare terabytes.
    const hsize_t element_bytes = std::max<hsize_t>(H5Tget_size(type.get()), 1);
    const hsize_t budget =
        m_state->file_bytes() * (is_compressed(dataset.get()) ? 1100 : 1) / element_bytes;
    hsize_t count = 1;
    std::string shape;
    for (const hsize_t d : dims)
    {
        shape += (shape.empty() ? "" : ",") + std::to_string(d);
        count = d == 0 ? 0 : count > budget / d ? budget + 1 : count * d;
    }
    if (count > budget || count > static_cast<hsize_t>(std::numeric_limits<int>::max()))
        throw ModelError(m_where, what + ": shape (" + shape + ") of " +
                                      std::to_string(element_bytes) +
                                      "-byte values declared, more than the " +
                                      std::to_string(m_state->file_bytes()) + "-byte file holds");
    H5FloatArray array;
    for (const hsize_t d : dims)
        array.shape.push_back(static_cast<int>(d));
    array.values.resize(static_cast<std::size_t>(count));
    if (count > 0 && H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                             array.values.data()) < 0)
        throw ModelError(m_where, what + ": cannot read it" + m_state->reason());
    return array;
}

} // namespace atrous::infer
