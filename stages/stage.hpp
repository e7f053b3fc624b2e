// SPDX-License-Identifier: Apache-2.0
// Purpose: the four stage interfaces. The pipeline sees stages only through these; no stage
// includes another stage's headers.
#pragma once

#include "stages/tile.hpp"

#include <optional>
#include <string_view>
#include <vector>

namespace spdlog
{
class logger;
}

namespace atrous
{

class Communicator;

/// What a run hands every stage: passed in, never global.
struct RunContext
{
    spdlog::logger* log = nullptr; // never null during a run
    int threads = 1;               // the thread budget of this process (TBB arena size)
    int rank = 0;                  // rank and size of the run (1 process: 0 / 1)
    int ranks = 1;
    Communicator* comm = nullptr; // the run's ranks; never null when ranks > 1
};

/// Life cycle: construct from options (cheap, no I/O) -> prepare() once (open, validate; throws)
/// -> per-tile calls -> finish() once (flush, close). Every error a stage raises names it:
/// "<name()>: ...".
class Stage
{
public:
    virtual ~Stage() = default;
    virtual std::string_view name() const = 0; // "read.gdal", "infer", "stitch.crop", "write.hdf5"
    virtual void prepare(const RunContext&) {}
    virtual void finish(const RunContext&) {}
};

class Reader : public Stage
{
public:
    /// Valid after prepare().
    virtual RasterInfo info() const = 0;
    /// Reads task.window (never more), normalizes, marks nodata. Thread-safe after prepare().
    virtual RasterTile read(const TileTask& task) = 0;
};

class Inferer : public Stage
{
public:
    /// Runs the model on a tile; const and thread-safe (no shared mutable state).
    virtual Prediction infer(const RasterTile& tile) const = 0;
};

class Stitcher : public Stage
{
public:
    /// Takes a tile's prediction; returns the output blocks that became complete with it
    /// (crop: the tile's core at once; blend: regions once every tile touching them arrived).
    virtual std::vector<OutputBlock> add(Prediction&& prediction) = 0;
    /// Resume, once before the first add(): `done_cores` (per TileId, non-zero = the core is
    /// already in the output) are never emitted again; returns the tiles, in increasing id, whose
    /// predictions this stitcher still needs to complete the other cores (crop: the tiles not
    /// done; blend: also the done ones whose grown core reaches a core still to write, since
    /// predictions are not stored).
    virtual std::vector<TileId> resume(const std::vector<std::uint8_t>& done_cores) = 0;
};

class Writer : public Stage
{
public:
    virtual void write(const OutputBlock& block) = 0;
    /// Tiles whose data is durably in the output (for resume); empty for a fresh output.
    virtual std::vector<TileId> done_tiles() const = 0;
    /// Seconds this process spent recording progress (making data durable and marking tiles
    /// done), for the run report; 0 when the writer records none.
    virtual double progress_seconds() const { return 0.0; }
};

} // namespace atrous
