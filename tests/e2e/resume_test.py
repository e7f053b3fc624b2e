#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: end-to-end tests of resume, crash safety (SIGKILL at random points), signals (exit 75)
# and MPI sharding (mpirun -np 1/2/4): every final output equals an uninterrupted run byte for byte.
"""atrous resume / signal / MPI tests.

    resume_test.py --atrous build/atrous --source . --work build/e2e-work TEST

Uses the scene and configuration of e2e_test.py. Exit 0 = pass, 1 = fail, 77 = skipped.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import time

# Read partial files while a run writes them (HDF5 1.10 would refuse a locked file).
os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
import h5py  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_test as e2e  # noqa: E402  (scene, config, Context)

check = e2e.check
Failure = e2e.Failure
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}
TILE = 32  # 301 x 197 px -> 10 x 7 = 70 tiles


def setup(args, name, extra="", threads=2, blend=False, input_path="scene.tif",
          sync_interval=None, executor="tiles"):
    """The resume tests' scene and run.yaml. `executor`: tile.executor; tiles by default (these
    tests kill the tile executor mid-run; stream_test.py resumes the stream)."""
    ctx = e2e.Context(args, name)
    e2e.write_geotiff(ctx.path("scene.tif"))
    e2e.write_config(ctx, tile_size=TILE, extra=extra, input_path=input_path)
    with open(ctx.path("run.yaml")) as f:
        text = f.read().replace("threads: 2", f"threads: {threads}")
    if sync_interval is not None:
        text = text.replace(f"threads: {threads}",
                            f"threads: {threads}\n  sync_interval: {sync_interval}")
    text = text.replace("halo: exact", f"halo: exact\n  executor: {executor}")
    if blend:
        text = text.replace("halo: exact", "halo: exact\n  stitch: blend")
    with open(ctx.path("run.yaml"), "w") as f:
        f.write(text)
    return ctx


def datasets(path):
    """Every dataset of an output as raw bytes (NaN included), by name."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                a = obj[()]
                out[name] = (a.dtype.str, a.shape, a.tobytes())
        f.visititems(visit)
    return out


def same_output(a, b):
    da, db = datasets(a), datasets(b)
    check(sorted(da) == sorted(db), f"datasets differ: {sorted(da)} vs {sorted(db)}")
    for name in da:
        check(da[name][:2] == db[name][:2], f"{name}: {da[name][:2]} vs {db[name][:2]}")
        check(da[name][2] == db[name][2], f"{name}: bytes differ between {a} and {b}")
    print(f"identical: {a} == {b} ({', '.join(sorted(da))})")


def tiles_done(path):
    with h5py.File(path, "r") as f:
        return int(f["progress/tile_done"][()].sum()), int(f["progress/tile_done"].shape[0])


def reference(ctx, name="ref.h5", *extra):
    out = ctx.path("out", name)
    t = time.monotonic()
    ctx.run("run", "run.yaml", "--set", f"output.path={out}", *extra, expect_rc=0)
    return out, time.monotonic() - t


def start(ctx, out, *extra, mpi=0):
    argv = [ctx.atrous, "run", "run.yaml", "--set", f"output.path={out}", "--log-format",
            "plain", *extra]
    env = dict(os.environ)
    if mpi:
        env.update(MPI_ENV)
        argv = ["mpirun", "-np", str(mpi), "--bind-to", "none"] + argv
    print("$", " ".join(argv))
    return subprocess.Popen(argv, cwd=ctx.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=env,
                            start_new_session=True)


def children(pid):
    """Direct children of pid (the ranks of an mpirun)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def wait_until(proc, ready, timeout=60, step=0.01):
    """Polls `ready()` until it holds, the run ends or `timeout` seconds pass."""
    t = time.monotonic()
    while time.monotonic() - t < timeout and proc.poll() is None and not ready():
        time.sleep(step)


def wait_for_progress(proc, partial, before, timeout=60):
    """Until the partial file holds more than `before` tiles (or the run ended)."""
    def progressed():
        try:
            return os.path.exists(partial) and tiles_done(partial)[0] > before
        except OSError:
            return False
    wait_until(proc, progressed, timeout, 0.02)


def interrupt_after_progress(ctx, out, seconds):
    """Starts a run, lets it record progress, stops it with SIGTERM (exit 75)."""
    proc = start(ctx, out)
    wait_for_progress(proc, out + ".partial", 0)
    time.sleep(0.1 * seconds)
    os.kill(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=120)
    check(proc.returncode == 75, f"exit status {proc.returncode}")


def kill9(proc, mpi):
    if mpi:
        # Every rank at once (a node failing), then the launcher.
        for c in children(proc.pid):
            try:
                os.kill(c, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=60)


def catches(pid, sig):
    """Whether process `pid` has a handler for `sig` (its SigCgt mask in /proc)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except OSError:
        pass
    return False


def wait_for_handler(proc, sig, timeout=60):
    """Until the process catches `sig` (a signal before that would kill it outright), or ended."""
    wait_until(proc, lambda: catches(proc.pid, sig), timeout, 0.005)


def wait_for_ranks(proc, count, sig, timeout=60):
    """The ranks under an mpirun once `count` of them catch `sig` (or the run ended)."""
    ranks = []

    def ready():
        ranks[:] = children(proc.pid)
        return len(ranks) == count and all(catches(r, sig) for r in ranks)
    wait_until(proc, ready, timeout, 0.005)
    return ranks


def wait_for_partial(proc, partial, timeout=60):
    wait_until(proc, lambda: os.path.exists(partial), timeout)


def kill_cycle(args, name, mpi=0, kills=6, blend=False):
    # Progress committed every 0.1 s (several tiles per fsync): in these ~2 s runs the default
    # 1 s would leave too few instants with progress on disk and the run still going (the tests
    # that stop a run once progress shows use 0.1 s for the same reason).
    ctx = setup(args, name, blend=blend, sync_interval=0.1)
    ref, seconds = reference(ctx)
    print(f"uninterrupted run: {seconds:.2f} s")
    out = ctx.path("out", "k.h5")
    partial = out + ".partial"
    rng = random.Random(int(os.environ.get("ATROUS_KILL_SEED", "12345")))
    killed = 0
    mid = 0
    attempts = 0
    history = []
    while killed < kills and attempts < 4 * kills:
        attempts += 1
        if os.path.exists(out):
            os.remove(out)  # completed before the kill: start over, keep killing
            os.remove(partial) if os.path.exists(partial) else None
        before = 0
        if os.path.exists(partial):
            before = tiles_done(partial)[0]
        proc = start(ctx, out, mpi=mpi)
        if attempts == 1:
            time.sleep(rng.uniform(0.0, 0.3))  # once: early, maybe while the file is made
        else:
            # Once the run computes (after its start-up), a random instant within the run.
            wait_for_progress(proc, partial, before)
            # Blend shows progress late in the run (a core waits for the tiles below it).
            time.sleep(rng.uniform(0.0, 0.2 if blend else 0.5) * seconds)
        if proc.poll() is not None:
            stdout, stderr = proc.communicate()
            print(stdout, stderr)
            check(proc.returncode == 0, f"run failed with {proc.returncode}")
            continue
        kill9(proc, mpi)
        if os.path.exists(out) and not os.path.exists(partial):
            # Published before the kill (the ranks were still shutting down): not a kill that
            # tests anything; the next attempt starts over.
            history.append("completed before the kill")
            print("kill missed: the run had completed")
            continue
        killed += 1
        state = "no partial file"
        if os.path.exists(partial):
            # Crash safety: whatever instant the kill hit, the partial file opens.
            try:
                done, total = tiles_done(partial)
            except OSError as e:
                raise Failure(f"kill {killed}: the partial file does not open: {e}")
            state = f"{done}/{total} tiles done"
            if before < done < total:
                mid += 1
        history.append(state)
        print(f"kill {killed}: {state}")
    check(killed >= kills, f"only {killed} kills landed in {attempts} attempts")
    check(mid >= 3, f"only {mid} kills landed mid-run with progress: {history}")
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", expect_rc=0) if not mpi \
        else run_mpi(ctx, mpi, out)
    check(not os.path.exists(partial), "the partial file is left after completion")
    same_output(ref, out)


def run_mpi(ctx, n, out, *extra, expect_rc=0):
    env = dict(os.environ)
    env.update(MPI_ENV)
    argv = ["mpirun", "-np", str(n), "--bind-to", "none", ctx.atrous, "run", "run.yaml",
            "--set", f"output.path={out}", "--log-format", "plain", *extra]
    print("$", " ".join(argv))
    proc = subprocess.run(argv, cwd=ctx.dir, capture_output=True, text=True, timeout=540,
                          stdin=subprocess.DEVNULL, env=env)
    print("rc", proc.returncode)
    print("--- stdout\n" + proc.stdout + "--- stderr\n" + proc.stderr + "---")
    if expect_rc is not None:
        check(proc.returncode == expect_rc, f"exit status {proc.returncode}, expected {expect_rc}")
    return proc


def need_mpirun():
    if shutil.which("mpirun") is None:
        print("SKIP: mpirun not installed")
        sys.exit(77)


# --- tests ---------------------------------------------------------------------------------------

def test_kill_resume(args):
    """SIGKILL at random points (6 times), resume each time: same bytes as one clean run."""
    kill_cycle(args, "kill_resume")


def test_signals(args):
    """SIGTERM, SIGINT, SIGUSR1: stop taking tiles, record progress, exit 75; then resume."""
    ctx = setup(args, "signals", sync_interval=0.1)
    ref, seconds = reference(ctx)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        out = ctx.path("out", f"{sig.name}.h5")
        proc = start(ctx, out)
        wait_for_progress(proc, out + ".partial", 0)
        time.sleep(0.1 * seconds)
        os.kill(proc.pid, sig)
        stdout, stderr = proc.communicate(timeout=120)
        print(stdout, stderr)
        check(proc.returncode == 75, f"{sig.name}: exit status {proc.returncode}, expected 75")
        check(f"interrupted by {sig.name}" in stderr, f"{sig.name}: no message")
        check("run the same command again to resume" in stderr, "no hint to resume")
        check(not os.path.exists(out), f"{sig.name}: an output was published")
        done, total = tiles_done(out + ".partial")
        print(f"{sig.name}: {done}/{total} tiles done")
        check(0 < done < total, f"{sig.name}: {done}/{total} tiles done")
        proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--log-format", "plain",
                       expect_rc=0)
        check(f"resume  {done} of {total} tiles already in" in proc.stdout, "no resume line")
        check(f"done: {total - done} tiles" in proc.stdout, "resumed run did not compute the rest")
        same_output(ref, out)


def test_resume_checks(args):
    """Fingerprint mismatch refuses (naming the field) unless --restart; complete: nothing to do;
    an unreadable partial file starts over with a warning."""
    ctx = setup(args, "resume_checks", sync_interval=0.1)
    ref, seconds = reference(ctx)
    out = ctx.path("out", "m.h5")
    interrupt_after_progress(ctx, out, seconds)
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--set",
                   "input.normalize.scale=0.002", expect_rc=5)
    e2e.one_line_error(proc, out + ".partial", "config.input.normalize.scale", "0.001", "0.002",
                       "--restart")
    # The scene changed on disk: the input file's identity differs.
    os.utime(ctx.path("scene.tif"), ns=(0, 0))
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", expect_rc=5)
    e2e.one_line_error(proc, "input.file")
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--restart", expect_rc=0)
    check("  resume  " not in proc.stdout, "--restart resumed")
    same_output(ref, out)
    # Complete: nothing to do, the file is left alone.
    mtime = os.stat(out).st_mtime_ns
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", expect_rc=0)
    check("nothing to do" in proc.stdout, "no 'nothing to do'")
    check(os.stat(out).st_mtime_ns == mtime, "a complete output was rewritten")
    # A different configuration replaces a complete output only with --restart.
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--set",
                   "output.threshold=0.4", expect_rc=5)
    e2e.one_line_error(proc, out, "different run", "config.output.threshold", "--restart")
    check(os.stat(out).st_mtime_ns == mtime, "a complete output was replaced without --restart")
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--set",
                   "output.threshold=0.4", "--restart", expect_rc=0)
    check("nothing to do" not in proc.stdout, "a different run found nothing to do")
    # Not even HDF5 at the partial file's name: not atrous', kept (exit 5) unless --restart.
    out2 = ctx.path("out", "g.h5")
    with open(out2 + ".partial", "wb") as f:
        f.write(b"not hdf5 at all" * 100)
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out2}", expect_rc=5)
    e2e.one_line_error(proc, out2 + ".partial", "not an HDF5 file atrous left", "--restart")
    # A damaged partial file (HDF5's signature, then garbage): a warning, then a fresh run.
    with open(out2 + ".partial", "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n" + b"not hdf5 at all" * 100)
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out2}", expect_rc=0)
    check("cannot be resumed" in proc.stderr and "starting over" in proc.stderr,
          "no warning about the unreadable partial file")
    same_output(ref, out2)


def test_blend_resume(args):
    """Blend: a resumed run recomputes the neighbours of the pending cores; the shares of a core
    are summed in tile order, so 2 threads give the bytes of the clean run too."""
    ctx = setup(args, "blend_resume", blend=True, sync_interval=0.1)
    ref, seconds = reference(ctx)
    ref1, _ = reference(ctx, "ref1.h5", "--set", "runtime.threads=1")
    same_output(ref, ref1)
    out = ctx.path("out", "b.h5")
    interrupted = 0
    for attempt in range(6):
        if interrupted == 2:
            break
        if os.path.exists(out):  # a run completed before its signal (a loaded machine): again
            os.remove(out)
            interrupted = 0
        # The second run resumes the first one's partial file. Signal each run once it handles
        # SIGTERM (before that the default action would kill it outright), a little later.
        proc = start(ctx, out)
        wait_for_handler(proc, signal.SIGTERM)
        time.sleep((0.1 if interrupted == 0 else 0.05) * seconds)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
        print(stdout, stderr)
        if proc.returncode == 0:
            continue
        check(proc.returncode == 75, f"exit status {proc.returncode}")
        interrupted += 1
        print("done", tiles_done(out + ".partial"))
    check(interrupted == 2, "no two interruptions landed mid-run in 6 attempts")
    ctx.run("run", "run.yaml", "--set", f"output.path={out}", expect_rc=0)
    same_output(ref, out)


def check_report(path, ranks, total):
    """The run report lists every rank's stats (gathered over MPI on rank 0)."""
    import json
    with open(path) as f:
        rep = json.load(f)
    per = rep["per_rank"]
    print(json.dumps(per, indent=1))
    check(rep["ranks"] == ranks, f"ranks {rep['ranks']}")
    check([p["rank"] for p in per] == list(range(ranks)), f"per_rank ranks {per}")
    check(sum(p["tiles"] for p in per) >= total, "per-rank tiles do not add up to the grid")
    check(sum(p["cores_written"] for p in per) == total, "per-rank cores do not add up")
    for p in per:
        for k in ("seconds", "busy_seconds", "wait_seconds", "progress_seconds", "tiles_per_s",
                  "peak_rss_mb"):
            check(isinstance(p[k], (int, float)) and p[k] >= 0, f"rank {p['rank']}: {k} {p[k]}")
        check(p["seconds"] > 0 and p["busy_seconds"] > 0 and p["peak_rss_mb"] > 10,
              f"rank {p['rank']}: empty stats {p}")
        check(abs(p["tiles_per_s"] - p["tiles"] / p["seconds"]) < 1e-6 * p["tiles_per_s"] + 1e-9,
              f"rank {p['rank']}: tiles/s is not tiles / seconds")
    sec = rep["seconds"]
    check(0 <= sec["progress"] <= sec["write"] + 1e-9, f"seconds.progress {sec}")
    check(abs(rep["progress_fraction"] - sec["progress"] / sec["wall"]) < 1e-9,
          "progress_fraction")
    return rep


def test_mpi_ranks(args):
    """mpirun -np 1, 2, 4 (oversubscribed): the same bytes as a run without MPI; the report
    holds every rank's stats."""
    need_mpirun()
    ctx = setup(args, "mpi_ranks")
    ref, _ = reference(ctx)
    for n in (1, 2, 4):
        out = ctx.path("out", f"np{n}.h5")
        proc = run_mpi(ctx, n, out)
        if n > 1:
            for r in range(n):
                check(f"rank {r}/{n}:" in proc.stdout, f"no summary of rank {r}")
        same_output(ref, out)
        check_report(ctx.path("out", f"np{n}.report.json"), n, 70)


def test_mpi_blend(args):
    """stitch blend over 1, 2 and 4 ranks (4 oversubscribed on 2 cores): each core is blended
    by its owner rank from the shares the others send; the same bytes as one process."""
    need_mpirun()
    ctx = setup(args, "mpi_blend", blend=True)
    ref, _ = reference(ctx)
    for n in (1, 2, 4):
        out = ctx.path("out", f"np{n}.h5")
        run_mpi(ctx, n, out)
        same_output(ref, out)
        rep = check_report(ctx.path("out", f"np{n}.report.json"), n, 70)
        if n > 1:
            check(sum(p["shares_sent"] for p in rep["per_rank"]) > 0, "no share crossed ranks")
    # 1 thread per rank too.
    out = ctx.path("out", "np2t1.h5")
    run_mpi(ctx, 2, out, "--set", "runtime.threads=1")
    same_output(ref, out)


def test_mpi_blend_kill_resume(args):
    """stitch blend, 2 ranks: SIGKILL every rank at random points (6 times), resume each time;
    same bytes as a clean run."""
    need_mpirun()
    kill_cycle(args, "mpi_blend_kill_resume", mpi=2, blend=True)


def test_vrt_member_changed(args):
    """A VRT input: the fingerprint covers its member files, so a member changed on disk refuses
    the resume (naming the member); --restart starts over."""
    from osgeo import gdal
    ctx = setup(args, "vrt_member", input_path="mosaic.vrt", sync_interval=0.1)
    gdal.UseExceptions()
    # Two halves of the scene as members of one VRT mosaic.
    src = gdal.Open(ctx.path("scene.tif"))
    half = e2e.WIDTH // 2
    gdal.Translate(ctx.path("left.tif"), src, srcWin=[0, 0, half, e2e.HEIGHT])
    gdal.Translate(ctx.path("right.tif"), src, srcWin=[half, 0, e2e.WIDTH - half, e2e.HEIGHT])
    src = None
    vrt = gdal.BuildVRT(ctx.path("mosaic.vrt"), [ctx.path("left.tif"), ctx.path("right.tif")])
    vrt = None
    ref, seconds = reference(ctx)
    out = ctx.path("out", "v.h5")
    interrupt_after_progress(ctx, out, seconds)
    with h5py.File(out + ".partial", "r") as f:
        fp = f.attrs["fingerprint"]
    check("input.member " + os.path.realpath(ctx.path("right.tif")) in fp,
          f"no member field in the fingerprint: {fp}")
    # The .vrt is untouched; one member is rewritten (a new modification time).
    st = os.stat(ctx.path("right.tif"))
    os.utime(ctx.path("right.tif"), ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", expect_rc=5)
    e2e.one_line_error(proc, "left by a different run",
                       "input.member " + os.path.realpath(ctx.path("right.tif")), "--restart")
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--restart", expect_rc=0)
    same_output(ref, out)


def test_mpi_kill_resume(args):
    """SIGKILL every rank at random points (6 times) with 2 ranks; same bytes as a clean run."""
    need_mpirun()
    kill_cycle(args, "mpi_kill_resume", mpi=2)


def test_mpi_signal(args):
    """SIGUSR1 to one rank (as srun delivers a job's signal) stops every rank: exit 75; a 2-rank
    resume completes. The signal goes to a rank, not to mpirun: Open MPI 4.1's mpirun was seen
    to hang forwarding SIGUSR1 (one rank left a zombie) on a loaded 2-core machine."""
    signal_one_rank(args, "mpi_signal")


def test_mpi_blend_signal(args):
    """stitch blend, 2 ranks: SIGUSR1 to one rank; the shares in flight are delivered, cores
    missing a share are not written, exit 75; a 2-rank resume gives the clean run's bytes."""
    signal_one_rank(args, "mpi_blend_signal", blend=True)


def signal_one_rank(args, name, blend=False):
    need_mpirun()
    # Blend: a core is written only once the tiles 3 rows below it are in (halo 96 px, tile
    # 32 px), so progress shows late; 1 thread per rank and a signal soon after the start.
    ctx = setup(args, name, sync_interval=0.1, blend=blend, threads=1 if blend else 2)
    ref, seconds = reference(ctx)
    out = ctx.path("out", "s.h5")
    for attempt in range(4):
        for p in (out, out + ".partial"):
            if os.path.exists(p):
                os.remove(p)  # the last attempt completed before its signal (a loaded machine)
        proc = start(ctx, out, mpi=2)
        ranks = wait_for_ranks(proc, 2, signal.SIGUSR1)
        if blend:
            time.sleep(0.15 * seconds)
        else:
            wait_for_progress(proc, out + ".partial", 0)
            time.sleep(0.1 * seconds)
        if proc.poll() is None:
            check(len(ranks) == 2, f"{len(ranks)} ranks under mpirun, expected 2")
            os.kill(ranks[-1], signal.SIGUSR1)
        stdout, stderr = proc.communicate(timeout=120)
        print(stdout, stderr)
        if proc.returncode != 0:
            break
    check(proc.returncode == 75, f"exit status {proc.returncode}, expected 75")
    check("interrupted by" in stderr, "no message")
    done, total = tiles_done(out + ".partial")
    print(f"{done}/{total} tiles done")
    check((0 <= done if blend else 0 < done) and done < total, f"{done}/{total} tiles done")
    run_mpi(ctx, 2, out)
    same_output(ref, out)


if __name__ == "__main__":
    sys.exit(e2e.run_named_test(globals(), __doc__))
