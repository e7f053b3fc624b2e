#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: end-to-end tests of what atrous will and will not overwrite (issue 11, file-system
# half): planted links, the input under another spelling, files that are not atrous', special
# files, hostile previews. Each reproduces the setup, runs, then checks: the victim's bytes are
# unchanged, the exit status, the one-line message.
"""atrous hostile file-system tests.

    hostile_files_test.py --atrous build/atrous --source . --work build/e2e-work TEST

Uses e2e_test.py's generated GeoTIFF and configuration. Exit 0 = pass, 1 = fail, 77 = skip.
"""

import hashlib
import os
import shutil
import socket
import stat
import subprocess
import sys

import h5py
from osgeo import gdal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_test as e2e  # noqa: E402
from e2e_test import Context, check, one_line_error  # noqa: E402

gdal.UseExceptions()

VICTIM = b"precious bytes that are not atrous' to touch\n"


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def victim(ctx, name="victim.txt"):
    path = ctx.path(name)
    with open(path, "wb") as f:
        f.write(VICTIM)
    return path


def unchanged(path, what):
    with open(path, "rb") as f:
        check(f.read() == VICTIM, f"{what}: the victim {path} was changed")


def scene(ctx, output="out/o.h5", **kw):
    e2e.write_geotiff(ctx.path("scene.tif"))
    e2e.write_config(ctx, output=output, **kw)


def run(ctx, *argv, expect_rc):
    return ctx.run("run", "run.yaml", "--quiet", *argv, expect_rc=expect_rc)


# --- row 1: planted links and foreign files at every name atrous creates -------------------------

def test_planted_links(args):
    """A symlink at any name atrous creates is refused (exit 5, named); its target is untouched."""
    ctx = Context(args, "planted_links")
    scene(ctx)
    target = victim(ctx)
    out = ctx.path("out", "o.h5")
    names = [out + ".lock", out + ".partial", out + ".partial.new", out + ".packing",
             ctx.path("out", "o.png"), ctx.path("out", "o.png.partial"),
             ctx.path("out", "o.report.json"), ctx.path("out", "o.report.json.partial"), out]
    for link in names:
        os.symlink(target, link)
        proc = run(ctx, expect_rc=5)
        one_line_error(proc, link, "symbolic link")
        unchanged(target, os.path.basename(link))
        check(os.path.islink(link), f"{link}: the link was removed")
        os.remove(link)
        for name in names:
            check(not os.path.lexists(name), f"{name} left after the refused run")
    # A dangling link: no file appears at its target.
    os.symlink(ctx.path("nowhere"), out + ".packing")
    proc = run(ctx, expect_rc=5)
    one_line_error(proc, out + ".packing", "symbolic link")
    check(not os.path.exists(ctx.path("nowhere")), "a file was created through a dangling link")


def test_foreign_temp_files(args):
    """Another program's file at a temporary name is refused and kept; atrous' own leftovers (an
    empty file, an HDF5 file) of a killed run are replaced and the run completes."""
    ctx = Context(args, "foreign_temp_files")
    scene(ctx)
    out = ctx.path("out", "o.h5")
    for name in (out + ".partial.new", out + ".packing", ctx.path("out", "o.png.partial"),
                 ctx.path("out", "o.report.json.partial"), out + ".lock"):
        with open(name, "wb") as f:
            f.write(VICTIM)
        proc = run(ctx, expect_rc=5)
        one_line_error(proc, name)
        unchanged(name, os.path.basename(name))
        os.remove(name)
    # A second name (hard link) of someone's file at a temporary name: refused, bytes kept.
    target = victim(ctx)
    os.link(target, out + ".packing")
    proc = run(ctx, expect_rc=5)
    one_line_error(proc, out + ".packing", "hard links")
    unchanged(target, "hard-linked .packing")
    os.remove(out + ".packing")
    # Leftovers of a killed run: replaced.
    open(out + ".partial.new", "wb").close()
    with h5py.File(out + ".packing", "w") as f:
        f.attrs["half"] = "written"
    run(ctx, expect_rc=0)
    check(not os.path.exists(out + ".partial.new") and not os.path.exists(out + ".packing"),
          "leftovers stayed")
    with h5py.File(out, "r") as f:
        check("mask" in f, "no output after the leftovers")


# --- row 2: identity by device + inode ----------------------------------------------------------

def test_same_file_spellings(args):
    """The output (or a sibling) is the input under another spelling: refused, exit 2, both
    named, the input unchanged."""
    ctx = Context(args, "same_file_spellings")
    os.makedirs(ctx.path("data"))
    e2e.write_geotiff(ctx.path("data", "in.tif"))
    before = digest(ctx.path("data", "in.tif"))
    os.symlink("data", ctx.path("alias"))
    os.link(ctx.path("data", "in.tif"), ctx.path("data", "hard.tif"))
    e2e.write_config(ctx, input_path=ctx.path("data", "in.tif"))
    for out in (ctx.path("alias", "in.tif"), ctx.path("data", "hard.tif")):
        proc = run(ctx, "--set", f"output.path={out}", expect_rc=2)
        one_line_error(proc, out, ctx.path("data", "in.tif"), "the input", "same file")
        check(digest(ctx.path("data", "in.tif")) == before, f"{out}: the input was changed")
    # A sibling: "<output>.partial" is the input.
    shutil.copy(ctx.path("data", "in.tif"), ctx.path("data", "x.h5.partial"))
    proc = run(ctx, "--set", f"input.path={ctx.path('data', 'x.h5.partial')}", "--set",
               f"output.path={ctx.path('alias', 'x.h5')}", expect_rc=2)
    one_line_error(proc, ctx.path("alias", "x.h5.partial"), "same file")


def test_vrt_source_and_sidecars(args):
    """The output is a source file of a VRT input, or a sidecar GDAL lists (.aux.xml): exit 2."""
    ctx = Context(args, "vrt_source_and_sidecars")
    e2e.write_geotiff(ctx.path("scene.tif"))
    gdal.Translate(ctx.path("left.tif"), ctx.path("scene.tif"), srcWin=[0, 0, 150, 197])
    gdal.Translate(ctx.path("right.tif"), ctx.path("scene.tif"), srcWin=[150, 0, 151, 197])
    gdal.BuildVRT(ctx.path("mosaic.vrt"), [ctx.path("left.tif"), ctx.path("right.tif")])
    e2e.write_config(ctx, input_path="mosaic.vrt")
    before = digest(ctx.path("right.tif"))
    proc = run(ctx, "--set", f"output.path={ctx.path('right.tif')}", expect_rc=2)
    one_line_error(proc, ctx.path("right.tif"), "a file of the input")
    check(digest(ctx.path("right.tif")) == before, "the VRT source was changed")
    # GDAL's .aux.xml of the input is the input's too.
    ds = gdal.Open(ctx.path("scene.tif"))
    ds.GetRasterBand(1).ComputeStatistics(False)
    ds = None
    aux = ctx.path("scene.tif.aux.xml")
    check(os.path.exists(aux), "no .aux.xml written by GDAL")
    before = digest(aux)
    proc = run(ctx, "--set", "input.path=scene.tif", "--set", f"output.path={aux}", expect_rc=2)
    one_line_error(proc, aux, "a file of the input")
    check(digest(aux) == before, "the .aux.xml was changed")


def test_preview_is_the_input(args):
    """Input in.png, output in.h5: the quick look would be in.png: refused (exit 2) unless
    --no-preview."""
    ctx = Context(args, "preview_is_the_input")
    e2e.write_geotiff(ctx.path("scene.tif"))
    gdal.Translate(ctx.path("in.png"), ctx.path("scene.tif"), format="PNG", outputType=gdal.GDT_Byte,
                   scaleParams=[[0, 1400, 0, 255]])
    before = digest(ctx.path("in.png"))
    e2e.write_config(ctx, input_path="in.png", output="in.h5")
    proc = run(ctx, expect_rc=2)
    one_line_error(proc, ctx.path("in.png"), "quick-look", "--no-preview")
    check(digest(ctx.path("in.png")) == before, "the input PNG was changed")
    check(not os.path.exists(ctx.path("in.h5")), "an output after the refusal")
    run(ctx, "--no-preview", expect_rc=0)
    check(digest(ctx.path("in.png")) == before, "the input PNG was changed by --no-preview")


# --- row 3: what an existing output.path may be --------------------------------------------------

def test_existing_output(args):
    """An existing file that is not an atrous output is refused unless --force; an atrous output
    of another run needs --restart; a link, FIFO or device never."""
    ctx = Context(args, "existing_output")
    scene(ctx)
    out = ctx.path("out", "o.h5")
    shutil.copy(ctx.path("scene.tif"), out)  # a GeoTIFF where the output goes
    before = digest(out)
    proc = run(ctx, expect_rc=5)
    one_line_error(proc, out, "not an atrous output", "--force")
    check(digest(out) == before, "the GeoTIFF was replaced")
    check(not os.path.exists(out + ".partial"), "a partial file after the refusal")
    run(ctx, "--force", expect_rc=0)
    with h5py.File(out, "r") as f:
        check("mask" in f, "--force did not write the output")
    # An atrous output of a different run: --restart replaces it.
    proc = run(ctx, "--set", "output.threshold=0.4", expect_rc=5)
    one_line_error(proc, out, "different run", "output.threshold", "--restart")
    run(ctx, "--set", "output.threshold=0.4", "--restart", expect_rc=0)
    # Never a FIFO (not even with --force; and nothing blocks on it).
    fifo = ctx.path("out", "fifo.h5")
    os.mkfifo(fifo)
    proc = run(ctx, "--set", f"output.path={fifo}", "--force", expect_rc=5)
    one_line_error(proc, fifo, "a FIFO")
    check(stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced")
    check(not os.path.exists(fifo + ".lock"), "a lock file beside the FIFO")
    # Never a device: /dev/null stays a character device, and nothing is created in /dev.
    proc = run(ctx, "--set", "output.path=/dev/null", "--force", expect_rc=5)
    one_line_error(proc, "/dev/null", "a character device")
    check(stat.S_ISCHR(os.lstat("/dev/null").st_mode), "/dev/null is no device any more")
    check(not os.path.exists("/dev/null.lock") and not os.path.exists("/dev/null.partial"),
          "files created beside /dev/null")
    # Never a link, even to an atrous output.
    os.symlink(out, ctx.path("out", "link.h5"))
    proc = run(ctx, "--set", f"output.path={ctx.path('out', 'link.h5')}", "--force", expect_rc=5)
    one_line_error(proc, ctx.path("out", "link.h5"), "symbolic link")


# --- row 4: hostile previews ----------------------------------------------------------------------

def test_preview_hostile(args):
    """preview X.h5 --out X.h5 is refused; a FIFO named in config_yaml is not opened; a partial
    output is refused unless --allow-partial."""
    ctx = Context(args, "preview_hostile")
    scene(ctx)
    run(ctx, "--no-preview", expect_rc=0)
    out = ctx.path("out", "o.h5")
    before = digest(out)
    proc = ctx.run("preview", out, "--out", out, expect_rc=2)
    one_line_error(proc, out, "the output it previews")
    check(digest(out) == before, "the output was overwritten by the preview")
    proc = ctx.run("preview", out, "--out", ctx.path("scene.tif"), expect_rc=2)
    one_line_error(proc, "scene.tif", "the input")

    # config_yaml names a FIFO as the input: the preview draws the mask only, never blocks.
    fifo = ctx.path("fifo.tif")
    os.mkfifo(fifo)
    fifo_out = ctx.path("out", "fifo.h5")
    shutil.copy(out, fifo_out)
    with h5py.File(fifo_out, "r+") as f:
        cfg = f.attrs["config_yaml"]
        cfg = cfg.decode() if isinstance(cfg, bytes) else cfg
        del f.attrs["config_yaml"]
        f.attrs["config_yaml"] = cfg.replace(ctx.path("scene.tif"), fifo)
    proc = ctx.run("preview", fifo_out, "--out", "f.png", expect_rc=0)
    check("not a regular file" in proc.stdout + proc.stderr, "the FIFO input is not named")
    proc = ctx.run("preview", fifo, "--out", "g.png", expect_rc=3)
    one_line_error(proc, fifo, "not a regular file")

    # An incomplete output: N of M tiles, exit 3; --allow-partial draws it.
    partial = ctx.path("out", "p.h5.partial")
    shutil.copy(out, partial)
    with h5py.File(partial, "r+") as f:
        done = f["progress/tile_done"]
        marks = done[()]
        marks[: len(marks) // 2] = 0
        done[...] = marks
        total, left = len(marks), int(marks.sum())
    proc = ctx.run("preview", partial, "--out", "p.png", expect_rc=3)
    one_line_error(proc, partial, f"incomplete, {left} of {total} tiles", "--allow-partial")
    check(not os.path.exists(ctx.path("p.png")), "a preview of an incomplete output")
    ctx.run("preview", partial, "--out", "p.png", "--allow-partial", expect_rc=0)
    check(os.path.exists(ctx.path("p.png")), "--allow-partial wrote no preview")

    # The preview's own names: a planted link at the PNG or its partial is refused.
    target = victim(ctx)
    for link in ("q.png", "q.png.partial"):
        os.symlink(target, ctx.path(link))
        proc = ctx.run("preview", out, "--out", "q.png", expect_rc=5)
        one_line_error(proc, link + ": is a symbolic link")
        unchanged(target, link)
        os.remove(ctx.path(link))


# --- issue 14 section 6: a file system without flock ---------------------------------------------

NO_FLOCK_C = """#include <errno.h>
/* flock as Lustre mounted without it answers. */
int flock(int fd, int operation) { (void)fd; (void)operation; errno = ENOSYS; return -1; }
"""


def test_no_flock(args):
    """Without flock: one warning, the exclusive lock file instead; a live holder refuses the
    second run, a dead one on this host is taken over."""
    ctx = Context(args, "no_flock")
    linked = subprocess.run(["ldd", ctx.atrous], capture_output=True, text=True).stdout
    if "libasan" in linked or "libtsan" in linked or shutil.which("cc") is None:
        print("SKIP: needs a C compiler and a binary without sanitizers (LD_PRELOAD)")
        sys.exit(77)
    with open(ctx.path("no_flock.c"), "w") as f:
        f.write(NO_FLOCK_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", ctx.path("no_flock.so"), ctx.path("no_flock.c")],
                   check=True)
    os.environ["LD_PRELOAD"] = ctx.path("no_flock.so")  # the runs inherit it
    scene(ctx)
    out = ctx.path("out", "o.h5")
    proc = ctx.run("run", "run.yaml", "--no-preview", expect_rc=0)
    warnings = [l for l in proc.stderr.splitlines() if "does not support flock" in l]
    check(len(warnings) == 1, "no single warning about flock")
    check(not os.path.exists(out + ".lock"), "the lock file is left")
    # Another run holds the lock file (a live process on this host): refused, exit 5.
    with open(out + ".lock", "w") as f:
        f.write(f"{os.getpid()} {socket.gethostname()}\n")
    proc = ctx.run("run", "run.yaml", "--no-preview", "--restart", expect_rc=5)
    one_line_error(proc, "another run", f"pid {os.getpid()}", "remove the lock file")
    # Left by a killed run on this host: taken over.
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(out + ".lock", "w") as f:
        f.write(f"{dead.pid} {socket.gethostname()}\n")
    ctx.run("run", "run.yaml", "--no-preview", "--restart", expect_rc=0)
    check(not os.path.exists(out + ".lock"), "the lock file is left after the take-over")


if __name__ == "__main__":
    sys.exit(e2e.run_named_test(globals(), __doc__))
