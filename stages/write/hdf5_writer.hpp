// SPDX-License-Identifier: Apache-2.0
// Purpose: `write.hdf5`: the georeferenced HDF5 output (mask, probabilities, provenance, progress).
#pragma once

#include "stages/stage.hpp"
#include "stages/write/safe_file.hpp"
#include "stages/write/write_options.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace atrous
{

class OutputLock;

/// The output file. Spatial models:
///   /mask              uint8 H x W: class index (argmax; C == 1: p >= threshold), 255 = nodata
///   /probability       C x H x W, when options.probabilities != none: float32 (NaN = nodata) or
///                      uint8 round(p * 254) (255 = nodata; attribute scale_factor = 1/254)
/// Classifiers: /class uint8 rows x columns and /class_probability C x rows x columns, likewise.
/// Spatial datasets are chunked by tile (chunk = min(tile, dim)), deflate + shuffle when
/// options.compression == "deflate"; unwritten pixels read as the fill value (nodata).
/// /progress/tile_done uint8 [rows * columns] (by TileId) is set to 1 once each tile's block is
/// durably written (see below). Root attributes: geotransform (6 doubles, GDAL order; absent
/// without one), crs_wkt, atrous_version, model_sha256, config_yaml (variable-length UTF-8
/// strings).
///
/// Crash safety and resume. The file is written as "<path>.partial" and published as <path> only
/// when every tile is in it. The partial file's datasets are contiguous, allocated and filled when
/// the file is made (as "<path>.partial.new", renamed to "<path>.partial" once closed), and never
/// filtered: writing a block then only overwrites raw data at fixed offsets and never touches
/// HDF5 metadata, so a process killed at any instant (SIGKILL included) leaves a partial file whose
/// metadata is what was closed at creation. A tile is marked in /progress/tile_done only after its
/// data is durable: write() writes the block's data and queues its tiles; a commit, due
/// options.sync_interval_s (at least 100x the last commit's duration) after the previous one and
/// made by the next write() or by finish(), flushes the file (one process: H5Fflush, then fsync
/// on the descriptor from H5Fget_vfd_handle; MPI-IO: fsync on a POSIX descriptor of the same file,
/// as MPI_File_sync is collective), then marks the queued tiles; a torn or not-yet-durable block
/// is thus never marked. finish() also fsyncs the last marks. prepare() resumes an existing
/// partial file when its `fingerprint` attribute equals options.fingerprint (else OutputError
/// naming the field, or start over with options.restart); a partial file that cannot be opened is
/// started over with a warning. finish() publishes by copying the partial file into
/// "<path>.packing" with the final layout (chunked by tile, filters), renaming it to <path> and
/// removing the partial file; a kill during that copy leaves the complete partial file, and the
/// next run publishes it.
///
/// What it will and will not overwrite (stages/write/safe_file.hpp). Every file it makes
/// ("<path>.partial.new", "<path>.packing") is created exclusively (O_EXCL, never through a link);
/// a leftover of a killed run there (a regular HDF5 file with one name) is removed first, anything
/// else there (a link, another program's file) is an OutputError naming it, found in prepare()
/// before any tile. "<path>.partial" is resumed only when it is a regular file with one name. An
/// existing <path> is replaced only when it is a regular file and either an atrous output of this
/// run (same fingerprint: nothing to do), of another run when options.restart or a resumable
/// partial file of this run says so, or anything regular when options.force; never a link,
/// directory, device, FIFO or socket. The rule is checked in prepare() and again just before the
/// rename.
///
/// MPI (context.ranks > 1): rank 0 decides (resume, create) and broadcasts; every rank opens the
/// partial file with the MPI-IO driver and writes its blocks independently (disjoint regions);
/// finish() is collective and rank 0 publishes. write() is thread-safe: calls are serialized (the
/// HDF5 library is not thread-safe).
class Hdf5Writer final : public Writer
{
public:
    Hdf5Writer(WriteOptions options, OutputLayout layout);
    ~Hdf5Writer() override;

    std::string_view name() const override { return "write.hdf5"; }
    /// Checks the options and the target, creates "<path>.partial" with every dataset. Throws
    /// ConfigError (bad option), OutputError ("<dir>: not writable", "<path>: is a directory",
    /// HDF5's message).
    void prepare(const RunContext& context) override;
    /// Throws OutputError with HDF5's message (e.g. disk full), atrous::Error when the block does
    /// not fit the layout (a pipeline bug).
    void write(const OutputBlock& block) override;
    /// Flushes and closes (OutputError when that fails), then renames when complete; otherwise
    /// leaves "<path>.partial" and logs a warning.
    void finish(const RunContext& context) override;
    /// Tiles already in the output after prepare(): those of a resumed partial file, or every
    /// tile when <path> is already complete with the same fingerprint (then nothing is written).
    std::vector<TileId> done_tiles() const override;

    std::filesystem::path partial_path() const;
    /// Every file the writer creates or writes for `output`: the output, "<output>.lock",
    /// ".partial", ".partial.new" and ".packing".
    static std::vector<std::filesystem::path> files_of(const std::filesystem::path& output);
    /// Tiles written so far (marked done or waiting for the next commit), and whether finish()
    /// published the file.
    long long tiles_written() const;
    bool published() const { return m_published; }
    /// prepare() found <path> complete with the same fingerprint: nothing to do.
    bool already_complete() const { return m_already_complete; }
    /// prepare() resumed an existing partial file.
    bool resumed() const { return m_resumed; }
    /// Seconds spent recording progress: flush + fsync of the data, tile_done marks, the final
    /// fsync of the marks (not the block writes themselves, nor publishing).
    double progress_seconds() const override;
    /// Commits so far (one fsync each, batching every tile written since the previous one).
    long long commits() const;

private:
    struct File;
    /// Makes the tiles written since the last commit durable (fsync), then marks them done.
    /// Called under m_mutex with an open file.
    void commit(const std::string& what);
    WriteOptions m_options;
    OutputLayout m_layout;
    mutable std::mutex m_mutex;
    std::unique_ptr<File> m_file;
    std::unique_ptr<OutputLock> m_lock; // "<path>.lock", held from prepare() to destruction
    /// The existing <path> prepare() found replaceable (device, inode); none when there was none.
    std::optional<safe_file::FileId> m_replaceable;
    bool m_published = false;
    bool m_already_complete = false;
    long long m_written_at_finish = 0;
    double m_progress_at_finish = 0;
    long long m_commits_at_finish = 0;
    bool m_resumed = false;
    std::vector<std::uint8_t> m_done_at_start; // per tile, after prepare()
};

} // namespace atrous
