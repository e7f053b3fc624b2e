#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: end-to-end tests of `tile.executor: stream` (pipeline/run/streaming_executor.hpp): the
# same output as exact tiles, kill -9 and resume, and the configurations it refuses.
"""atrous stream executor tests.

    stream_test.py --atrous build/atrous --source . --work build/e2e-work TEST

Uses the scene (301 x 197 px, a nodata corner) and configuration of e2e_test.py. Exit 0 = pass,
1 = fail, 77 = skipped.
"""

import json
import os
import re
import signal
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_test as e2e  # noqa: E402
import resume_test as resume  # noqa: E402

check = e2e.check
Failure = e2e.Failure


def read(path):
    with h5py.File(path, "r") as f:
        return f["mask"][()], f["probability"][()], f["progress/tile_done"][()]


def test_stream_equals_tiles(args):
    """stream == tiles (halo exact, crop): the same mask bytes, probabilities within 1e-4."""
    ctx = resume.setup(args, "stream_equals_tiles")
    tiles = ctx.path("out", "tiles.h5")
    stream = ctx.path("out", "stream.h5")
    ctx.run("run", "run.yaml", "--set", f"output.path={tiles}", expect_rc=0)
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={stream}", "--set",
                   "tile.executor=stream", "--log-format", "plain", expect_rc=0)
    check("stream: band" in proc.stdout, "no stream plan line")
    check("x one whole-image pass" in proc.stdout, "no FLOP ratio line")
    with open(ctx.path("out", "stream.report.json")) as f:
        report = json.load(f)
    check(report["executor"] == "stream", f"report executor {report['executor']}")
    check(abs(report["flop_ratio"] - 1.0) < 1e-6, f"report flop_ratio {report['flop_ratio']}")
    mt, pt, dt = read(tiles)
    ms, ps, ds = read(stream)
    check(mt.shape == ms.shape and pt.shape == ps.shape, f"shapes {mt.shape} {ms.shape}")
    check(dt.all() and ds.all(), "not every tile done")
    nan_t, nan_s = np.isnan(pt), np.isnan(ps)
    check((nan_t == nan_s).all(), "nodata (NaN) differs")
    diff = float(np.abs(pt[~nan_t] - ps[~nan_s]).max())
    print(f"max |p_stream - p_tiles| = {diff:.3g}, masks identical: {(mt == ms).all()}")
    check(diff <= 1e-4, f"probabilities differ by {diff}")
    check(mt.tobytes() == ms.tobytes(), "masks differ")


def resume_from_first_row_not_done(ctx, out):
    """Resumes the run of `out`: it must stream from the first tile row with a tile not done (a
    stream segment that re-warms from the rows above), not from the top, computing less than a
    whole pass when that row is not the first."""
    with h5py.File(out + ".partial", "r") as f:
        tile_done = f["progress/tile_done"][()]
    columns = -(-e2e.WIDTH // resume.TILE)
    expected_row = int(np.flatnonzero(tile_done == 0)[0]) // columns * resume.TILE
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--log-format", "plain",
                   expect_rc=0)
    check(f"resumed: streams from output row {expected_row} " in proc.stdout,
          f"no resume line for row {expected_row}:\n{proc.stdout}")
    with open(out[:-3] + ".report.json") as f:
        ratio = json.load(f)["flop_ratio"]
    print(f"resumed from output row {expected_row}: {ratio:.3f} x one whole-image pass")
    if expected_row > 0:
        check(ratio < 1.0, f"a resume from row {expected_row} computed {ratio} x a whole pass")


def tall_scene(ctx, height=960, nodata_rect=e2e.NODATA_RECT):
    """Replaces the scene with a taller one (301 x `height` px, 32 px tiles)."""
    saved = e2e.HEIGHT
    try:
        e2e.HEIGHT = height
        e2e.write_geotiff(ctx.path("scene.tif"), nodata_rect=nodata_rect)
    finally:
        e2e.HEIGHT = saved


def kill_mid_run(ctx, out, after_tiles, mpi=0):
    """Starts a run of `out` (under `mpi` ranks), SIGKILLs it (every rank) once more than
    `after_tiles` tiles are done; up to four tries until the kill lands mid-run."""
    partial = out + ".partial"
    for attempt in range(4):
        for p in (out, partial):
            if os.path.exists(p):
                os.remove(p)
        proc = resume.start(ctx, out, mpi=mpi)
        resume.wait_for_progress(proc, partial, after_tiles)
        if proc.poll() is not None:
            proc.communicate()
            continue
        resume.kill9(proc, mpi)
        if os.path.exists(partial) and not os.path.exists(out):
            done, total = resume.tiles_done(partial)
            print(f"attempt {attempt}: killed with {done}/{total} tiles done")
            if 0 < done < total:
                return
    raise Failure("no kill landed mid-run")


def test_stream_kill_resume(args):
    """SIGKILL (then SIGTERM) a stream run after its first progress, resume from the first tile
    row not done: same bytes as one clean run."""
    # One thread and a taller scene (301 x 2880 px, 900 tiles): the stream of e2e's scene ends
    # within ~0.2 s, too soon after its first progress for a kill to land mid-run. The writer
    # records progress at most every 100 x its last commit's cost (~0.3 s here), so a 960-row
    # scene (~0.4 s of stream) got one commit mid-run, often below 20 tiles once the writes ran
    # on their own thread.
    ctx = resume.setup(args, "stream_kill_resume", threads=1, sync_interval=0.05,
                       executor="stream")
    tall_scene(ctx, 2880)
    ref, seconds = resume.reference(ctx)
    print(f"uninterrupted stream run: {seconds:.2f} s")
    out = ctx.path("out", "k.h5")
    partial = out + ".partial"
    # After the first progress commit (at least the first tile row of 10 tiles), so the resume
    # starts mid-image.
    kill_mid_run(ctx, out, after_tiles=0)
    resume_from_first_row_not_done(ctx, out)
    check(not os.path.exists(partial), "the partial file is left after completion")
    resume.same_output(ref, out)
    # SIGTERM: the stream stops at its next band, records its progress, exits 75; then resumes.
    out = ctx.path("out", "term.h5")
    for attempt in range(4):
        for p in (out, out + ".partial"):
            if os.path.exists(p):
                os.remove(p)
        proc = resume.start(ctx, out)
        resume.wait_for_progress(proc, out + ".partial", 0)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
        if proc.returncode == 0:
            continue  # completed before the signal
        print(stdout, stderr)
        check(proc.returncode == 75, f"exit status {proc.returncode}, expected 75")
        check("interrupted by SIGTERM" in stderr, "no message")
        check(not os.path.exists(out), "an output was published")
        done, total = resume.tiles_done(out + ".partial")
        print(f"SIGTERM: {done}/{total} tiles done")
        check(0 < done < total, f"{done}/{total} tiles done")
        break
    else:
        raise Failure("every run completed before SIGTERM")
    resume_from_first_row_not_done(ctx, out)
    resume.same_output(ref, out)


def test_stream_nodata_rows(args):
    """Tile rows whose every core is nodata are not streamed: the stream says so, computes less
    than one whole pass, and equals exact tiles (which skip those tiles too)."""
    ctx = resume.setup(args, "stream_nodata_rows", executor="stream")
    # 301 x 480 px, 15 tile rows of 32 px; rows 96-287 (tile rows 3-8) nodata across the width,
    # and the top-left nodata corner of e2e's scene.
    tall_scene(ctx, 480, nodata_rect=(0, 96, e2e.WIDTH, 192))
    stream = ctx.path("out", "stream.h5")
    tiles = ctx.path("out", "tiles.h5")
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={stream}", "--log-format", "plain",
                   expect_rc=0)
    check("skips 6 of 15 tile rows" in proc.stdout, f"no skip line:\n{proc.stdout}")
    with open(ctx.path("out", "stream.report.json")) as f:
        report = json.load(f)
    ctx.run("run", "run.yaml", "--set", f"output.path={tiles}", "--set", "tile.executor=tiles",
            expect_rc=0)
    mt, pt, dt = read(tiles)
    ms, ps, ds = read(stream)
    check(dt.all() and ds.all(), "not every tile done")
    nan_t, nan_s = np.isnan(pt), np.isnan(ps)
    check((nan_t == nan_s).all(), "nodata (NaN) differs")
    check(nan_s[:, 96:288, :].all(), "the skipped rows are not nodata")
    diff = float(np.abs(pt[~nan_t] - ps[~nan_s]).max())
    print(f"flop_ratio {report['flop_ratio']:.3f}, max |p_stream - p_tiles| = {diff:.3g}")
    check(diff <= 1e-4, f"probabilities differ by {diff}")
    check(mt.tobytes() == ms.tobytes(), "masks differ")
    # 9 of 15 tile rows streamed, the lower run re-warmed from about one receptive reach above
    # it (~186 px of this 480 px scene).
    check(0.6 < report["flop_ratio"] < 1.0, f"flop_ratio {report['flop_ratio']}")
    skipped = report["tiles"]["skipped_empty"]
    check(skipped == 6 * 10, f"{skipped} tiles reported empty, expected the 60 of tile rows 3-8")


def test_stream_mpi(args):
    """mpirun -np 1, 2, 3, 4 (and 2 threads without MPI): the stream cut into segments over the
    ranks gives the bytes of one process; each rank re-warms its segments (FLOP ratio above one
    whole pass), the report holds every rank's stats."""
    resume.need_mpirun()
    ctx = resume.setup(args, "stream_mpi", threads=1, executor="stream")
    # Tile rows 3-6 all nodata: skipped, not streamed (a segment of their own).
    tall_scene(ctx, 480, nodata_rect=(0, 96, e2e.WIDTH, 128))
    ref, _ = resume.reference(ctx)
    # 2 threads: the bytes of 1 thread.
    t2, _ = resume.reference(ctx, "t2.h5", "--set", "runtime.threads=2")
    resume.same_output(ref, t2)
    total = 10 * 15
    for n in (1, 2, 3, 4):
        out = ctx.path("out", f"np{n}.h5")
        proc = resume.run_mpi(ctx, n, out)
        resume.same_output(ref, out)
        rep = resume.check_report(ctx.path("out", f"np{n}.report.json"), n, total)
        check(rep["executor"] == "stream", f"report executor {rep['executor']}")
        if n == 1:
            # 11 of 15 tile rows streamed, in two segments (the lower one re-warmed).
            one_rank = rep["flop_ratio"]
            check(0.7 < one_rank <= 1.10, f"np 1: flop_ratio {one_rank}")
            continue
        check(f"segments of up to" in proc.stdout and f"for {n} ranks" in proc.stdout,
              "no segment plan line")
        for r in range(n):
            check(f"rank {r}/{n}:" in proc.stdout, f"no summary of rank {r}")
        # Every segment after the first re-warms at most one receptive reach.
        check(one_rank < rep["flop_ratio"] < 2.0, f"np {n}: flop_ratio {rep['flop_ratio']}")
        print(f"np {n}: {rep['flop_ratio']:.3f} x one whole-image pass")


def test_stream_mpi_kill_resume(args):
    """kill -9 every rank of a 2-rank stream run mid-run, resume with 2 ranks, then with one
    process: the bytes of one clean run."""
    resume.need_mpirun()
    ctx = resume.setup(args, "stream_mpi_kill_resume", threads=1, sync_interval=0.05,
                       executor="stream")
    tall_scene(ctx, 2880)
    ref, _ = resume.reference(ctx)
    out = ctx.path("out", "k.h5")
    partial = out + ".partial"
    kill_mid_run(ctx, out, after_tiles=10, mpi=2)
    # Resume with 2 ranks, killed again if it is still running, then finished by one process.
    proc = resume.start(ctx, out, mpi=2)
    before = resume.tiles_done(partial)[0]
    resume.wait_for_progress(proc, partial, before)
    if proc.poll() is None:
        resume.kill9(proc, 2)
    else:
        proc.communicate()
    if os.path.exists(partial):
        print("after the second kill: %d/%d tiles done" % resume.tiles_done(partial))
        ctx.run("run", "run.yaml", "--set", f"output.path={out}", expect_rc=0)
    check(not os.path.exists(partial), "the partial file is left after completion")
    resume.same_output(ref, out)


def set_strip(ctx, strip):
    """tile.stream_strip in run.yaml."""
    with open(ctx.path("run.yaml")) as f:
        text = f.read()
    with open(ctx.path("run.yaml"), "w") as f:
        f.write(text.replace("executor: stream", f"executor: stream\n  stream_strip: {strip}"))


def test_stream_strips(args):
    """Vertical strips (tile.stream_strip): the same bytes as one full-width strip for every
    strip width (each layer computes its region's columns), the plan says how many strips, the
    FLOPs grow by the columns strips share; kill -9 of a strip run mid-run and its resume: the
    same bytes."""
    ctx = resume.setup(args, "stream_strips", threads=1, sync_interval=0.05, executor="stream")
    tall_scene(ctx, 960)
    full, _ = resume.reference(ctx, "full.h5", "--set", "tile.stream_strip=full")
    for strip, strips in ((64, 5), (100, 3), (320, 1)):
        out = ctx.path("out", f"s{strip}.h5")
        proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--set",
                       f"tile.stream_strip={strip}", "--log-format", "plain", expect_rc=0)
        if strips > 1:
            width = -(-strip // resume.TILE) * resume.TILE
            check(f"{strips} strips of {width} px" in proc.stdout,
                  f"no strip plan line:\n{proc.stdout}")
        resume.same_output(full, out)
        with open(ctx.path("out", f"s{strip}.report.json")) as f:
            ratio = json.load(f)["flop_ratio"]
        print(f"stream_strip {strip}: {strips} strips, {ratio:.3f} x one whole-image pass")
        check((ratio > 1.0) == (strips > 1) and ratio < 4.0, f"flop_ratio {ratio}")
    # kill -9 mid-run with 64 px strips, resumed with 128 px strips (the strip width is not part
    # of the run's fingerprint: it changes no byte): the bytes of the full-width run.
    set_strip(ctx, 64)
    out = ctx.path("out", "k.h5")
    kill_mid_run(ctx, out, after_tiles=0)
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--set",
                   "tile.stream_strip=128", "--log-format", "plain", expect_rc=0)
    check("3 strips of 128 px" in proc.stdout, f"not resumed with 128 px strips:\n{proc.stdout}")
    check(not os.path.exists(out + ".partial"), "the partial file is left after completion")
    resume.same_output(full, out)


def test_stream_strip_nodata(args):
    """A gap that spans some strips' width but no whole tile row (a mosaic's missing column of
    files) is skipped strip by strip: the stream says so, computes less, and writes the bytes of
    the full-width stream (which streams it all)."""
    ctx = resume.setup(args, "stream_strip_nodata", executor="stream")
    # 301 x 480 px, 32 px tiles: columns 0-127 nodata on every row (strips 0 and 1 of 64 px).
    tall_scene(ctx, 480, nodata_rect=(0, 0, 128, 480))
    full, _ = resume.reference(ctx, "full.h5", "--set", "tile.stream_strip=full")
    out = ctx.path("out", "s64.h5")
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--set",
                   "tile.stream_strip=64", "--log-format", "plain", expect_rc=0)
    check("skips 30 of 75 tile rows of strips" in proc.stdout, f"no skip line:\n{proc.stdout}")
    resume.same_output(full, out)
    with open(ctx.path("out", "s64.report.json")) as f:
        ratio = json.load(f)["flop_ratio"]
    planned = float(re.search(r"5 strips of 64 px \(([\d.]+) x the FLOPs", proc.stdout).group(1))
    print(f"strips of 64 px, 2 of 5 skipped: {ratio:.3f} x one whole-image pass "
          f"(all 5: {planned:.3f})")
    # The two skipped strips are the narrowest regions (at the image's left border): at least a
    # quarter of the five strips' FLOPs.
    check(ratio < 0.75 * planned, f"flop_ratio {ratio}: the skipped strips were computed")


def test_stream_strips_mpi(args):
    """3 ranks share (strip, tile rows) segments of 64 px strips: the bytes of one process."""
    resume.need_mpirun()
    ctx = resume.setup(args, "stream_strips_mpi", threads=1, executor="stream")
    tall_scene(ctx, 480, nodata_rect=(0, 96, e2e.WIDTH, 128))
    ref, _ = resume.reference(ctx, "full.h5", "--set", "tile.stream_strip=full")
    set_strip(ctx, 64)
    out = ctx.path("out", "np3.h5")
    resume.run_mpi(ctx, 3, out)
    resume.same_output(ref, out)


def test_stream_refused(args):
    """stream with halo 16, blend, or a classifier: one line naming the reason, exit 2."""
    ctx = e2e.Context(args, "stream_refused")
    e2e.write_geotiff(ctx.path("scene.tif"))
    e2e.write_config(ctx)
    for setting, needle in (("tile.halo=16", "tile.halo: exact"),
                            ("tile.stitch=blend", "tile.stitch: crop")):
        proc = ctx.run("run", "run.yaml", "--set", "tile.executor=stream", "--set", setting,
                       expect_rc=2)
        e2e.one_line_error(proc, "tile.executor", needle)
        e2e.no_output(ctx)
    e2e.write_geotiff(ctx.path("scene1.tif"), bands=1)
    e2e.write_config(ctx, name="cls.yaml", input_path="scene1.tif",
                     weights=ctx.model("classifier_full.h5"))
    proc = ctx.run("run", "cls.yaml", "--set", "tile.size=28", "--set", "tile.executor=stream",
                   expect_rc=2)
    e2e.one_line_error(proc, "tile.executor", "cannot stream")
    e2e.no_output(ctx)


if __name__ == "__main__":
    sys.exit(e2e.run_named_test(globals(), __doc__))
