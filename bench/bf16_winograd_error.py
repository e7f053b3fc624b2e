#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Purpose: the error of bf16 Winograd schemes against a direct bf16 convolution (numpy, float64
# arithmetic with the transformed inputs and weights rounded to bf16): why the bf16 kernels use
# F(2x2, 3x3) (bench/README.md, "bf16").
"""bench/bf16_winograd_error.py

One 3x3 'same' convolution, 64 -> 32 channels, 24x24, ReLU'd N(0, 1) inputs, He-normal weights.
Prints the RMS and max error against the float64 result, relative to the output RMS, for the
direct convolution on bf16 operands and for F(m, 3) Winograd with bf16 transformed operands,
F(m, 3) built by Toom-Cook from the listed points (+ infinity); [exact] is the float64 Winograd's
own error (checks the matrices).
"""
import numpy as np

rng = np.random.default_rng(0)
C, K, H = 64, 32, 24


def bf(x):
    """Round to bf16 (nearest even), as float32."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def rbf(v):
    return bf(v.astype(np.float32)).astype(np.float64)


def ident(v):
    return v


x = np.maximum(rng.standard_normal((H, H, C)), 0).astype(np.float32)
w = (rng.standard_normal((3, 3, C, K)) * np.sqrt(2 / (9 * C))).astype(np.float32)


def direct(x, w):
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    out = np.zeros((H, H, K))
    for ky in range(3):
        for kx in range(3):
            out += np.einsum("hwc,ck->hwk", xp[ky:ky + H, kx:kx + H].astype(np.float64),
                             w[ky, kx].astype(np.float64))
    return out


def wino(x, w, BT, G, AT, m, rnd):
    a = BT.shape[0]
    xp = np.pad(x, ((1, 1 + a), (1, 1 + a), (0, 0))).astype(np.float64)
    U = rnd(np.einsum("ia,abck,jb->ijck", G, w.astype(np.float64), G))
    out = np.zeros((H, H, K))
    for ty in range(0, H, m):
        for tx in range(0, H, m):
            V = rnd(np.einsum("ia,abc,jb->ijc", BT, xp[ty:ty + a, tx:tx + a], BT))
            Y = np.einsum("ai,ijk,bj->abk", AT, np.einsum("ijc,ijck->ijk", V, U), AT)
            out[ty:ty + m, tx:tx + m] = Y[:min(m, H - ty), :min(m, H - tx)]
    return out


def toom_cook(pts, m, r=3):
    """A^T, G from the points (+ infinity); B^T solved from the correlation identity."""
    n = m + r - 1
    AT, G = np.zeros((m, n)), np.zeros((n, r))
    for j, p in enumerate(pts):
        AT[:, j] = [p ** i for i in range(m)]
        N = np.prod([p - q for q in pts if q != p])
        G[j] = [p ** k / N for k in range(r)]
    AT[m - 1, n - 1] = 1
    G[n - 1, r - 1] = 1
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for col in range(n):
                row = np.zeros((n, n))
                for j in range(n):
                    row[j, col] = AT[i, j] * G[j, k]
                rows.append(row.ravel())
                rhs.append(1.0 if col == i + k else 0.0)
    BT = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0].reshape(n, n)
    return BT, G, AT


ref = direct(x, w)
rms = np.sqrt((ref ** 2).mean())


def report(name, o):
    e = o - ref
    print("%-34s rel rms %.2e  rel max %.2e" % (name, np.sqrt((e ** 2).mean()) / rms,
                                                np.abs(e).max() / rms))


report("direct bf16", direct(bf(x), bf(w)))
for m, pts in [(2, [0, 1, -1]), (3, [0, 1, -1, 2]), (3, [0, 1, -1, 0.5]), (4, [0, 1, -1, 2, -2]),
               (4, [0, 1, -1, 0.5, -0.5]), (4, [0, 1, -1, 0.5, -2]), (4, [0, 1, -1, 2, -0.5])]:
    BT, G, AT = toom_cook(pts, m)
    exact = np.abs(wino(x, w, BT, G, AT, m, ident) - ref).max() / rms
    report("F(%d,3) %s [exact %.0e]" % (m, pts, exact), wino(x, w, BT, G, AT, m, rbf))
