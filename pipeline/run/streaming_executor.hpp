// SPDX-License-Identifier: Apache-2.0
// Purpose: `tile.executor: stream`: the whole image through the streaming executor
// (stages/infer/engine/stream_executor.hpp) in full-width bands of rows, its output rows cut into
// the tile grid's cores and handed to the writer as the crop stitcher's blocks would be.
#pragma once

#include "pipeline/config/config.hpp"
#include "pipeline/run/executor.hpp"

namespace atrous
{

/// Streams the image from its top row (a resumed run too: it computes everything again and
/// writes only the tiles not yet done), writes each tile's core once the band has passed its
/// last row. The stitcher is only finished (the stream cuts the cores itself). A signal stops it
/// at the next band, with the cores written so far recorded.
class StreamingExecutor final : public Executor
{
public:
    ExecutionResult run(const RunPlan& plan, const Checkpoint& checkpoint, RunStages& stages,
                        const ExecutionContext& run) override;
};

} // namespace atrous
