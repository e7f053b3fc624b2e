// SPDX-License-Identifier: Apache-2.0
// Purpose: `tile.executor: stream`: the whole image through the streaming executor
// (stages/infer/engine/stream_executor.hpp) in full-width bands of rows, its output rows cut into
// the tile grid's cores and handed to the writer as the crop stitcher's blocks would be.
#pragma once

#include "pipeline/config/config.hpp"
#include "pipeline/run/executor.hpp"

namespace atrous
{

/// Streams the image from the first tile row with a tile not yet done (a resumed run re-warms
/// from the rows above and writes only the tiles not yet done), writes each tile's core once the
/// band has passed its last row. Three threads: the stream's loop (inference, on the caller's
/// thread and TBB's), a reading thread that reads the next input band while the current one is
/// computed, and a writer thread that cuts the output bands into cores and writes them in the
/// same order as a single thread would, behind a queue of about two tile rows. The stitcher is
/// only finished (the stream cuts the cores itself). A signal stops the stream at the next band;
/// every band already handed to the writer thread is written before run() returns. A write error
/// stops the stream at its next band and is rethrown here as thrown.
class StreamingExecutor final : public Executor
{
public:
    ExecutionResult run(const RunPlan& plan, const Checkpoint& checkpoint, RunStages& stages,
                        const ExecutionContext& run) override;
};

} // namespace atrous
