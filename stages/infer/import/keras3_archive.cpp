// SPDX-License-Identifier: Apache-2.0
// Purpose: the zip side of Keras 3 `.keras` files, through libzip: locate the three entries,
// bound their sizes, read them whole (libzip checks each entry's CRC-32 at its end).
#include "keras3_archive.hpp"

#include "stages/error.hpp"

#include <array>
#include <fstream>
#include <memory>
#include <zip.h>

namespace atrous::infer
{
namespace
{

std::string libzip_message(int code)
{
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    return text;
}

struct ArchiveCloser
{
    void operator()(zip_t* archive) const { zip_discard(archive); }
};
struct EntryCloser
{
    void operator()(zip_file_t* file) const { zip_fclose(file); }
};
using Archive = std::unique_ptr<zip_t, ArchiveCloser>;
using Entry = std::unique_ptr<zip_file_t, EntryCloser>;

/// One open archive and the prefix of its errors.
class ZipReader
{
public:
    explicit ZipReader(const std::filesystem::path& path) : m_where("model " + path.string())
    {
        int code = 0;
        // ZIP_CHECKCONS: the central directory must agree with the local headers, which
        // catches most truncated or spliced archives at open.
        m_archive.reset(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
        if (!m_archive)
            throw ModelError(m_where, "not a readable zip archive (libzip: " +
                                          libzip_message(code) + "); truncated or damaged?");
    }

    bool has(const std::string& name) const
    {
        return zip_name_locate(m_archive.get(), name.c_str(), 0) >= 0;
    }

    /// The whole entry `name`, refused before reading when over `cap` or a likely bomb.
    template <typename Bytes>
    Bytes read(const std::string& name, std::uint64_t cap, const KerasArchiveLimits& limits) const
    {
        const std::string where = m_where + ": entry " + name;
        const zip_int64_t index = zip_name_locate(m_archive.get(), name.c_str(), 0);
        if (index < 0)
            throw ModelError(where, "missing");
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(m_archive.get(), static_cast<zip_uint64_t>(index), 0, &st) != 0 ||
            (st.valid & ZIP_STAT_SIZE) == 0 || (st.valid & ZIP_STAT_COMP_SIZE) == 0)
            throw ModelError(where, std::string("cannot read its size (libzip: ") +
                                        zip_strerror(m_archive.get()) + ")");
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0 && st.encryption_method != ZIP_EM_NONE)
            throw ModelError(where, "encrypted; an unencrypted entry expected");
        if (st.size > cap)
            throw ModelError(where, std::to_string(st.size) +
                                        " bytes uncompressed declared, more than the limit of " +
                                        std::to_string(cap) + " bytes");
        if (st.size > limits.bomb_floor_bytes && st.size / limits.max_expansion > st.comp_size)
            throw ModelError(where, std::to_string(st.size) + " bytes uncompressed from " +
                                        std::to_string(st.comp_size) +
                                        " stored declared (more than " +
                                        std::to_string(limits.max_expansion) +
                                        "x); refused as a likely zip bomb");
        const Entry entry(zip_fopen_index(m_archive.get(), static_cast<zip_uint64_t>(index), 0));
        if (!entry)
            throw ModelError(where, std::string("cannot open it (libzip: ") +
                                        zip_strerror(m_archive.get()) + ")");
        Bytes bytes(static_cast<std::size_t>(st.size), '\0');
        std::uint64_t total = 0;
        while (total < st.size)
        {
            const zip_int64_t got = zip_fread(entry.get(), bytes.data() + total, st.size - total);
            if (got < 0)
                throw ModelError(where, std::string("damaged (libzip: ") +
                                            zip_file_strerror(entry.get()) + ")");
            if (got == 0)
                throw ModelError(where, std::to_string(st.size) + " bytes declared, " +
                                            std::to_string(total) + " found; damaged");
            total += static_cast<std::uint64_t>(got);
        }
        // Reading past the declared size both checks that nothing follows and lets libzip
        // compare the CRC-32 at the end of the entry.
        std::array<char, 1> more{};
        const zip_int64_t extra = zip_fread(entry.get(), more.data(), more.size());
        if (extra < 0)
            throw ModelError(where, std::string("damaged (libzip: ") +
                                        zip_file_strerror(entry.get()) + ")");
        if (extra > 0)
            throw ModelError(where, "more than the " + std::to_string(st.size) +
                                        " bytes declared; damaged");
        return bytes;
    }

    const std::string& where() const { return m_where; }

private:
    std::string m_where;
    Archive m_archive;
};

} // namespace

bool is_zip_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::array<char, 4> magic{};
    if (!in.read(magic.data(), magic.size()))
        return false;
    return magic[0] == 'P' && magic[1] == 'K' &&
           ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6));
}

KerasArchive read_keras_archive(const std::filesystem::path& path, const KerasArchiveLimits& limits)
{
    const ZipReader zip(path);
    if (!zip.has(keras_config_entry))
        throw ModelError(zip.where(), std::string("entry ") + keras_config_entry +
                                          " is missing; a Keras 3 .keras file (model.save) "
                                          "expected");
    if (!zip.has(keras_weights_entry))
    {
        if (zip.has("model.weights.npz"))
            throw ModelError(zip.where(),
                             std::string("entry ") + keras_weights_entry +
                                 " is missing; model.weights.npz (weights_format=\"npz\") is not "
                                 "supported, save with the default \"h5\"");
        throw ModelError(zip.where(), std::string("entry ") + keras_weights_entry +
                                          " is missing; a .keras file saved with its weights "
                                          "expected");
    }
    KerasArchive archive;
    archive.config_json = zip.read<std::string>(keras_config_entry, limits.json_bytes, limits);
    if (zip.has(keras_metadata_entry))
        archive.metadata_json =
            zip.read<std::string>(keras_metadata_entry, limits.json_bytes, limits);
    archive.weights_h5 =
        zip.read<std::vector<unsigned char>>(keras_weights_entry, limits.weights_bytes, limits);
    return archive;
}

} // namespace atrous::infer
