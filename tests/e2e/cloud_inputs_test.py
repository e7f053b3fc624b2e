#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: end-to-end tests of GDAL virtual inputs (/vsicurl/ from a range-capable HTTP server on
# 127.0.0.1, /vsizip/, /vsigzip/) and of the fingerprint's content sample (an input rewritten in
# place with its size and time kept refuses the resume).
"""atrous cloud and virtual input tests.

    cloud_inputs_test.py --atrous build/atrous --source . --work build/e2e-work TEST

Uses the scene, configuration and resume helpers of e2e_test.py and resume_test.py.
Exit 0 = pass, 1 = fail, 77 = skipped.
"""

import email.utils
import gzip
import http.server
import os
import re
import shutil
import sys
import threading
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resume_test as rt  # noqa: E402  (setup, start, kill9, same_output, tiles_done)
import e2e_test as e2e  # noqa: E402

from osgeo import gdal  # noqa: E402

check = e2e.check

# GDAL in the atrous child processes: no directory listing requests (the server has no
# listings), only .tif files probed, a bounded wait, and never a proxy for the loopback server.
os.environ.update({
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif",
    "GDAL_HTTP_TIMEOUT": "30",
    "GDAL_HTTP_MAX_RETRY": "0",
    "NO_PROXY": "127.0.0.1",
    "no_proxy": "127.0.0.1",
})
SERVER_LIFETIME_S = 300  # the server stops itself after this, whatever happens to the test


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """GET and HEAD of the files in `root` (no subdirectories), with `Range: bytes=a-b`,
    `bytes=a-` and `bytes=-n` answered 206 + Content-Range, as object stores do."""
    root = "."
    requests = []  # (method, path, Range header) of every request, for the checks

    def log_message(self, fmt, *a):
        pass

    def do_HEAD(self):
        self.serve(body=False)

    def do_GET(self):
        self.serve(body=True)

    def serve(self, body):
        rng = self.headers.get("Range")
        RangeHandler.requests.append((self.command, self.path, rng))
        name = self.path.split("?", 1)[0].lstrip("/")
        path = os.path.join(self.root, name)
        if "/" in name or not os.path.isfile(path):
            self.send_error(404)
            return
        size = os.path.getsize(path)
        start, end, status = 0, size - 1, 200
        if rng is not None:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if not m or (m[1] == "" and m[2] == ""):
                self.send_error(416)
                return
            if m[1] == "":
                start = max(0, size - int(m[2]))
            else:
                start = int(m[1])
                end = min(size - 1, int(m[2])) if m[2] else size - 1
            if start >= size or start > end:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Last-Modified",
                         email.utils.formatdate(os.path.getmtime(path), usegmt=True))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if body:
            with open(path, "rb") as f:
                f.seek(start)
                self.wfile.write(f.read(end - start + 1))


class RangeServer:
    """A threading HTTP server on 127.0.0.1, a port the kernel picks; stops itself after
    SERVER_LIFETIME_S. Use as a context manager (stopped in its __exit__, i.e. a finally)."""

    def __init__(self, root):
        handler = type("Handler", (RangeHandler,), {"root": root})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.timer = threading.Timer(SERVER_LIFETIME_S, self.server.shutdown)

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def __enter__(self):
        RangeHandler.requests.clear()
        self.thread.start()
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def write_cog(ctx):
    """scene.tif (e2e's scene) -> cog.tif, a cloud-optimized GeoTIFF."""
    gdal.UseExceptions()
    gdal.Translate(ctx.path("cog.tif"), ctx.path("scene.tif"), format="COG",
                   creationOptions=["BLOCKSIZE=64", "COMPRESS=DEFLATE"])


def fingerprint(path):
    with rt.h5py.File(path, "r") as f:
        return f.attrs["fingerprint"], f.attrs["config_yaml"]


def kill_after_progress(ctx, out):
    """Starts a run, SIGKILLs it once the partial file holds a tile; returns (done, total).
    Tries again (from scratch) when the run completed before the kill."""
    partial = out + ".partial"
    for _ in range(4):
        for p in (out, partial):
            if os.path.exists(p):
                os.remove(p)
        proc = rt.start(ctx, out)
        rt.wait_for_progress(proc, partial, 0)
        if proc.poll() is None:
            rt.kill9(proc, 0)
        else:
            print(*proc.communicate())
        if os.path.exists(partial) and not os.path.exists(out):
            done, total = rt.tiles_done(partial)
            if 0 < done < total:
                print(f"killed with {done}/{total} tiles done")
                return done, total
    raise e2e.Failure("no kill landed mid-run in 4 attempts")


def resume(ctx, out, done, total):
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--log-format", "plain",
                   expect_rc=0)
    check(f"resume  {done} of {total} tiles already in" in proc.stdout, "no resume line")
    return proc


# --- tests ---------------------------------------------------------------------------------------

def test_vsicurl(args):
    """A COG served over HTTP with range requests: the /vsicurl/ run equals the local run byte
    for byte, a SIGKILLed /vsicurl/ run resumes to the same bytes, the preview reads the input
    through GDAL, and a missing URL is one clear line (exit 3)."""
    ctx = rt.setup(args, "vsicurl", sync_interval=0.1)
    write_cog(ctx)
    ref = ctx.path("out", "local.h5")
    ctx.run("run", "run.yaml", "--set", "input.path=cog.tif", "--set", f"output.path={ref}",
            "--no-preview", expect_rc=0)
    with RangeServer(ctx.dir) as server:
        url = "/vsicurl/" + server.url("cog.tif")
        with open(ctx.path("run.yaml")) as f:
            text = f.read().replace("path: scene.tif", f"path: {url}")
        with open(ctx.path("run.yaml"), "w") as f:
            f.write(text)
        out = ctx.path("out", "remote.h5")
        proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", "--log-format",
                       "plain", expect_rc=0)
        check("not found; drawing the mask only" not in proc.stdout + proc.stderr,
              "the preview did not find the /vsicurl/ input")
        check(os.path.exists(ctx.path("out", "remote.png")), "no preview")
        rt.same_output(ref, out)
        fp, config_yaml = fingerprint(out)
        check(f"path: {url}" in config_yaml, f"input.path not kept verbatim: {config_yaml}")
        check(f'"input.sample {url}"' in fp, f"no content sample of the URL: {fp}")
        ranged = [r for r in RangeHandler.requests if r[2] is not None]
        check(ranged, "GDAL made no range request")
        print(f"{len(RangeHandler.requests)} requests, {len(ranged)} with Range")

        # A local VRT whose source is the URL: the member keeps its spelling in the fingerprint.
        vrt = gdal.BuildVRT(ctx.path("remote.vrt"), [ctx.path("cog.tif")])
        del vrt  # closed: written to disk
        with open(ctx.path("remote.vrt")) as f:
            text = f.read()
        text, n = re.subn(r'<SourceFilename relativeToVRT="1">cog\.tif</SourceFilename>',
                          f'<SourceFilename relativeToVRT="0">{url}</SourceFilename>', text)
        check(n == 3, f"{n} sources replaced in the VRT, expected one per band")
        with open(ctx.path("remote.vrt"), "w") as f:
            f.write(text)
        out_vrt = ctx.path("out", "remote_vrt.h5")
        ctx.run("run", "run.yaml", "--set", "input.path=remote.vrt", "--set",
                f"output.path={out_vrt}", "--no-preview", expect_rc=0)
        rt.same_output(ref, out_vrt)
        fp, _ = fingerprint(out_vrt)
        check(f'"input.member {url}"' in fp and f'"input.sample {url}"' in fp,
              f"no member fields for the URL: {fp}")

        # SIGKILL mid-run, resume over /vsicurl/: the same bytes.
        killed = ctx.path("out", "killed.h5")
        done, total = kill_after_progress(ctx, killed)
        resume(ctx, killed, done, total)
        rt.same_output(ref, killed)

        # A URL the server does not have: exit 3, the path and GDAL's reason on one line.
        missing = "/vsicurl/" + server.url("absent.tif")
        proc = ctx.run("run", "run.yaml", "--set", f"input.path={missing}", "--set",
                       f"output.path={ctx.path('out', 'absent.h5')}", expect_rc=3)
        e2e.one_line_error(proc, missing, "404")
    # /vsi names are for the input only: HDF5 reads and writes local files.
    proc = ctx.run("run", "run.yaml", "--set", "output.path=/vsis3/bucket/out.h5", expect_rc=2)
    e2e.one_line_error(proc, "output.path", "local file")


def test_vsizip(args):
    """The scene inside a zip (/vsizip/, relative and absolute archive paths) and gzipped
    (/vsigzip/): the same bytes as the local run; the fingerprint samples it; a killed /vsizip/
    run resumes."""
    ctx = rt.setup(args, "vsizip", sync_interval=0.1)
    ref = ctx.path("out", "local.h5")
    ctx.run("run", "run.yaml", "--set", f"output.path={ref}", "--no-preview", expect_rc=0)
    with zipfile.ZipFile(ctx.path("scene.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        z.write(ctx.path("scene.tif"), "scene.tif")
    with open(ctx.path("scene.tif"), "rb") as f, gzip.open(ctx.path("scene.tif.gz"), "wb") as g:
        g.write(f.read())
    for name, path in (("rel", "/vsizip/scene.zip/scene.tif"),
                       ("abs", "/vsizip/" + ctx.path("scene.zip") + "/scene.tif"),
                       ("gz", "/vsigzip/" + ctx.path("scene.tif.gz"))):
        out = ctx.path("out", f"{name}.h5")
        proc = ctx.run("run", "run.yaml", "--set", f"input.path={path}", "--set",
                       f"output.path={out}", "--log-format", "plain", expect_rc=0)
        check("not found; drawing the mask only" not in proc.stdout + proc.stderr,
              "the preview did not find the /vsizip/ input")
        rt.same_output(ref, out)
        fp, config_yaml = fingerprint(out)
        check(f"path: {path}" in config_yaml, f"input.path not kept verbatim: {config_yaml}")
        check(f'"input.sample {path}"' in fp, f"no content sample of the member: {fp}")
    with open(ctx.path("run.yaml")) as f:
        text = f.read().replace("path: scene.tif", "path: /vsizip/scene.zip/scene.tif")
    with open(ctx.path("run.yaml"), "w") as f:
        f.write(text)
    killed = ctx.path("out", "killed.h5")
    done, total = kill_after_progress(ctx, killed)
    resume(ctx, killed, done, total)
    rt.same_output(ref, killed)


def test_content_changed(args):
    """Killed, then the input rewritten in place by another scene of the same size with its
    modification time put back (cp -p, rsync): the resume is refused, naming the input's content
    sample; the original bytes back (same time): it resumes to the bytes of a clean run."""
    ctx = rt.setup(args, "content_changed", sync_interval=0.1)
    ref = ctx.path("out", "ref.h5")
    ctx.run("run", "run.yaml", "--set", f"output.path={ref}", "--no-preview", expect_rc=0)
    scene = ctx.path("scene.tif")
    shutil.copy2(scene, ctx.path("original.tif"))
    e2e.write_geotiff(ctx.path("other.tif"), seed=2)
    check(os.path.getsize(ctx.path("other.tif")) == os.path.getsize(scene),
          "the other scene is not the same size")
    out = ctx.path("out", "m.h5")
    done, total = kill_after_progress(ctx, out)
    before = os.stat(scene)

    def rewrite(source):
        # cp -p: the bytes replaced in the same inode, the time put back.
        shutil.copyfile(source, scene)
        os.utime(scene, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = os.stat(scene)
        check((after.st_size, after.st_mtime_ns, after.st_ino) ==
              (before.st_size, before.st_mtime_ns, before.st_ino), "stat changed")

    rewrite(ctx.path("other.tif"))
    proc = ctx.run("run", "run.yaml", "--set", f"output.path={out}", expect_rc=5)
    e2e.one_line_error(proc, "left by a different run", "input.sample " + scene, "--restart")
    check(rt.tiles_done(out + ".partial") == (done, total), "the refused resume changed the file")
    rewrite(ctx.path("original.tif"))
    resume(ctx, out, done, total)
    rt.same_output(ref, out)


if __name__ == "__main__":
    sys.exit(e2e.run_named_test(globals(), __doc__))
