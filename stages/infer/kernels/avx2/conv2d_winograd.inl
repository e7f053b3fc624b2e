// SPDX-License-Identifier: Apache-2.0
// Purpose: Winograd convolution for stride-1 3x3 (fp32: F(4x4, 3x3); bf16: F(2x2, 3x3)) and 2x2
// (fp32: F(3x3, 2x2); bf16: F(2x2, 2x2)) kernels, any dilation and padding, written once over the
// vector traits `V` (the ISA .cpp's Ymm/Zmm, which includes this with its ISA flags; WinoOps<V>
// says how the GEMM multiplies) and a scheme `S` (tile sizes and 1-D transforms). Per block of
// m x m output tiles: the input transform (B^T d B, a x a patch -> a^2 points), one GEMM per point
// (tiles x in_c times in_c x out_c, V::mr tiles x V::block channels per register tile), the output
// transform (A^T m A, a^2 points -> m x m) with bias and ReLU fused. A dilated convolution is d_h x
// d_w interleaved ordinary ones: tiles step d through the rows/columns of one sub-lattice.

// No include guard: each ISA's .cpp includes this once, inside its own anonymous namespace.

/// F(4x4, 3x3) (Lavin & Gray; points 0, +-1, +-2, inf): 6x6 patches, 4x4 outputs.
template <typename V> struct Wino43
{
    using Reg = typename V::Reg;
    static constexpr int a = 6; // patch size
    static constexpr int m = 4; // outputs per tile side
    /// B^T d
    static void in_1d(const Reg d[6], Reg r[6])
    {
        const Reg two = V::set1(2.0f), four = V::set1(4.0f), five = V::set1(5.0f);
        const Reg t0 = V::fnmadd(four, d[2], d[4]);
        const Reg t1 = V::fnmadd(four, d[1], d[3]);
        const Reg t2 = V::sub(d[4], d[2]);
        const Reg t3 = V::mul(two, V::sub(d[3], d[1]));
        r[0] = V::fmadd(four, d[0], V::fnmadd(five, d[2], d[4]));
        r[1] = V::add(t0, t1);
        r[2] = V::sub(t0, t1);
        r[3] = V::add(t2, t3);
        r[4] = V::sub(t2, t3);
        r[5] = V::fmadd(four, d[1], V::fnmadd(five, d[3], d[5]));
    }
    /// A^T m
    static void out_1d(const Reg x[6], Reg o[4])
    {
        const Reg s12 = V::add(x[1], x[2]), d12 = V::sub(x[1], x[2]);
        const Reg s34 = V::add(x[3], x[4]), d34 = V::sub(x[3], x[4]);
        o[0] = V::add(V::add(x[0], s12), s34);
        o[1] = V::fmadd(V::set1(2.0f), d34, d12);
        o[2] = V::fmadd(V::set1(4.0f), s34, s12);
        o[3] = V::add(V::fmadd(V::set1(8.0f), d34, d12), x[5]);
    }
};

/// F(2x2, 3x3) (points 0, +-1, inf): 4x4 patches, 2x2 outputs. Its transforms only add and
/// subtract (no growth beyond 4x), which is what the bf16 Winograd needs: rounding the transformed
/// values of F(4x4, 3x3) to bf16 costs ~9x the error of a direct bf16 convolution, F(2x2, 3x3)
/// ~1.5x (bench/README.md, "bf16").
template <typename V> struct Wino23
{
    using Reg = typename V::Reg;
    static constexpr int a = 4;
    static constexpr int m = 2;
    /// B^T d
    static void in_1d(const Reg d[4], Reg r[4])
    {
        r[0] = V::sub(d[0], d[2]);
        r[1] = V::add(d[1], d[2]);
        r[2] = V::sub(d[2], d[1]);
        r[3] = V::sub(d[1], d[3]);
    }
    /// A^T m
    static void out_1d(const Reg x[4], Reg o[2])
    {
        o[0] = V::add(V::add(x[0], x[1]), x[2]);
        o[1] = V::sub(V::sub(x[1], x[2]), x[3]);
    }
};

/// F(2x2, 2x2) (points 0, 1, inf): 3x3 patches, 2x2 outputs; the bf16 Winograd's 2x2 scheme (its
/// tiles have the size of F(2x2, 3x3)'s, so both keep the same alignment).
template <typename V> struct Wino22
{
    using Reg = typename V::Reg;
    static constexpr int a = 3;
    static constexpr int m = 2;
    static void in_1d(const Reg d[3], Reg r[3])
    {
        r[0] = V::sub(d[0], d[1]);
        r[1] = d[1];
        r[2] = V::sub(d[2], d[1]);
    }
    static void out_1d(const Reg x[3], Reg o[2])
    {
        o[0] = V::add(x[0], x[1]);
        o[1] = V::add(x[1], x[2]);
    }
};

/// F(3x3, 2x2) (points 0, +-1, inf): 4x4 patches, 3x3 outputs; exact small coefficients.
template <typename V> struct Wino32
{
    using Reg = typename V::Reg;
    static constexpr int a = 4;
    static constexpr int m = 3;
    static void in_1d(const Reg d[4], Reg r[4])
    {
        r[0] = V::sub(d[2], d[0]);
        r[1] = V::add(d[1], d[2]);
        r[2] = V::sub(d[2], d[1]);
        r[3] = V::sub(d[3], d[1]);
    }
    static void out_1d(const Reg x[4], Reg o[3])
    {
        const Reg s12 = V::add(x[1], x[2]);
        o[0] = V::add(x[0], s12);
        o[1] = V::sub(x[1], x[2]);
        o[2] = V::add(s12, x[3]);
    }
};

/// Tiles along one axis: for every sub-lattice a (0..d-1) of the output, ceil(rows_a / m) tiles.
struct WinoAxis
{
    int out = 0; // output size
    int d = 1;   // dilation
    int m = 4;   // outputs per tile
    int tiles = 0;

    WinoAxis(int out_size, int dilation, int tile) : out(out_size), d(dilation), m(tile)
    {
        for (int a = 0; a < d; ++a)
            tiles += (lattice(a) + m - 1) / m;
    }
    int lattice(int a) const { return a < out ? (out - a + d - 1) / d : 0; }
    /// First output index of tile `r` (its outputs are start, start + d, ... while < out).
    int start(int r) const
    {
        for (int a = 0; a < d; ++a)
        {
            const int ta = (lattice(a) + m - 1) / m;
            if (r < ta)
                return a + d * m * r;
            r -= ta;
        }
        return out; // not reached
    }
};

/// Owns 64-byte aligned float scratch (no std containers in ISA code: see packing.cpp).
struct WinoScratch
{
    float* data = nullptr;
    std::size_t size = 0;
    WinoScratch() = default;
    WinoScratch(const WinoScratch&) = delete;
    WinoScratch& operator=(const WinoScratch&) = delete;
    ~WinoScratch() { release(); }
    void release()
    {
        if (data)
            ::operator delete (data, std::align_val_t{64});
        data = nullptr;
        size = 0;
    }
    float* get(std::size_t count)
    {
        if (count > size)
        {
            release();
            data =
                static_cast<float*>(::operator new (count * sizeof(float), std::align_val_t{64}));
            size = count;
        }
        return data;
    }
};

/// This thread's scratch for one TBB task body: a body takes it, fills and uses it and is done
/// before the thread runs another body (the bodies start no nested parallel work), so it is
/// reused by every kernel call on the thread and the kernels allocate nothing in the steady state.
inline float* task_scratch(std::size_t count)
{
    thread_local WinoScratch scratch;
    return scratch.get(count);
}

/// How the Winograd GEMM multiplies (fp32 here): the transformed inputs are `Elem`s, K advances
/// `k_step` input channels per step (one weight vector of V::block channels per step), `a_bcast`
/// broadcasts a row's operand for channel ci and `madd` accumulates it times a weight vector.
/// The bf16 kernels specialize it (bf16 pairs, VDPBF16PS); `store` writes a transformed input.
template <typename V> struct WinoOps
{
    using Elem = float;
    using Reg = typename V::Reg;
    static constexpr int k_step = 1;
    static Reg a_bcast(const Elem* p) { return V::broadcast(p); }
    static Reg madd(Reg acc, Reg a, Reg w) { return V::fmadd(a, w, acc); }
    static void store(Elem* p, Reg v) { V::store(p, v); }
    static void store_partial(Elem* p, int count, Reg v) { V::store_partial(p, count, v); }
};

template <typename V> struct WinoJob
{
    const Conv2dShape* s;
    const float* in;
    const float* packed; // [a*a points][blocks][in_c][V::block]
    const float* bias;
    float* out;
    bool relu;
    typename V::Relu relu_params;
    WinoAxis y, x;
    int blocks; // cout blocks
    int ldm;    // blocks * V::block: the GEMM output's row length
    int tiles_per_image;
};

/// Input transform of tiles [t0, t1) (global indices; block starts at `tb`) into
/// vbuf [a*a][T][in_c].
template <typename V, typename S>
void wino_input(const WinoJob<V>& job, int t0, int t1, int tb, int T,
                typename WinoOps<V>::Elem* vbuf)
{
    using Reg = typename V::Reg;
    using Ops = WinoOps<V>;
    constexpr int A = S::a;
    const Conv2dShape& s = *job.s;
    const std::size_t ldv = static_cast<std::size_t>(s.in_c);
    const std::size_t point_stride = static_cast<std::size_t>(T) * ldv;
    // The rows / columns some output reads end here: a patch of the last tile reaches past them
    // (into rows and columns only its discarded outputs need) and reads zeros there, not the
    // input's further rows and columns, so that the result equals that of the input cropped to
    // what it reads (a region of a wider buffer: negative pads, unread columns on the right).
    const int y_end = std::min(s.in_h, s.out_h - 1 - s.pad_top + (s.kh - 1) * s.dilation_h + 1);
    const int x_end = std::min(s.in_w, s.out_w - 1 - s.pad_left + (s.kw - 1) * s.dilation_w + 1);
    for (int t = t0; t < t1; ++t)
    {
        const int n = t / job.tiles_per_image;
        const int r = t % job.tiles_per_image / job.x.tiles;
        const int c = t % job.x.tiles;
        const int iy0 = job.y.start(r) - s.pad_top;
        const int ix0 = job.x.start(c) - s.pad_left;
        const std::size_t ips = s.in_stride();
        const float* image = job.in + static_cast<std::size_t>(n) * s.in_h * s.in_w * ips;
        const float* rows[A]; // nullptr: outside the image
        bool col_ok[A];
        for (int u = 0; u < A; ++u)
        {
            const int iy = iy0 + s.dilation_h * u;
            rows[u] = iy >= 0 && iy < y_end ? image + static_cast<std::size_t>(iy) * s.in_w * ips
                                            : nullptr;
            const int ix = ix0 + s.dilation_w * u;
            col_ok[u] = ix >= 0 && ix < x_end;
        }
        std::size_t col_off[A];
        for (int v = 0; v < A; ++v)
            col_off[v] = col_ok[v] ? static_cast<std::size_t>(ix0 + s.dilation_w * v) * ips : 0;
        typename Ops::Elem* vt = vbuf + static_cast<std::size_t>(t - tb) * ldv;
        for (int c0 = 0; c0 < s.in_c; c0 += V::lanes)
        {
            const int nc = std::min(V::lanes, s.in_c - c0);
            Reg tmp[A][A];
            for (int u = 0; u < A; ++u)
            {
                Reg d[A];
#pragma GCC unroll 6
                for (int v = 0; v < A; ++v)
                {
                    if (!rows[u] || !col_ok[v])
                        d[v] = V::zero();
                    else if (nc == V::lanes)
                        d[v] = V::loadu(rows[u] + col_off[v] + c0);
                    else
                        d[v] = V::load_partial(rows[u] + col_off[v] + c0, nc);
                }
                S::in_1d(d, tmp[u]);
            }
#pragma GCC unroll 6
            for (int j = 0; j < A; ++j)
            {
                Reg col[A], res[A];
#pragma GCC unroll 6
                for (int u = 0; u < A; ++u)
                    col[u] = tmp[u][j];
                S::in_1d(col, res);
#pragma GCC unroll 6
                for (int i = 0; i < A; ++i)
                {
                    typename Ops::Elem* dst = vt + (i * A + j) * point_stride + c0;
                    if (nc == V::lanes)
                        Ops::store(dst, res[i]);
                    else
                        Ops::store_partial(dst, nc, res[i]);
                }
            }
        }
    }
}

/// MR tiles x NV vectors of one cout block: m[p][v] = sum_ci vrow[p][ci] * u[ci][v].
template <typename V, int MR, int NV>
void wino_gemm_tile(const typename WinoOps<V>::Elem* vrow, std::size_t ldv, int k, const float* u,
                    float* m, std::size_t ldm)
{
    using Reg = typename V::Reg;
    using Ops = WinoOps<V>;
    constexpr int nr = V::block;
    Reg acc[MR][NV];
#pragma GCC unroll 16
    for (int p = 0; p < MR; ++p)
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v)
            acc[p][v] = V::zero();
    const typename Ops::Elem* src[MR];
#pragma GCC unroll 16
    for (int p = 0; p < MR; ++p)
        src[p] = vrow + p * ldv;
    for (int ci = 0; ci < k; ci += Ops::k_step, u += nr)
    {
        Reg wv[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v)
            wv[v] = V::load(u + V::lanes * v);
#pragma GCC unroll 16
        for (int p = 0; p < MR; ++p)
        {
            const Reg a = Ops::a_bcast(src[p] + ci);
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v)
                acc[p][v] = Ops::madd(acc[p][v], a, wv[v]);
        }
    }
#pragma GCC unroll 16
    for (int p = 0; p < MR; ++p)
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v)
            V::store(m + p * ldm + V::lanes * v, acc[p][v]);
}

/// The GEMM of point `p`, cout block `cb` over the `T` tiles of a block.
template <typename V, int NV>
void wino_gemm_rows(const WinoJob<V>& job, int p, int cb, int T,
                    const typename WinoOps<V>::Elem* vbuf, float* mbuf)
{
    using Ops = WinoOps<V>;
    constexpr int MR = V::mr;
    const int k = job.s->in_c;
    const std::size_t ldv = static_cast<std::size_t>(k);
    const std::size_t ldm = static_cast<std::size_t>(job.ldm);
    const typename Ops::Elem* vp = vbuf + static_cast<std::size_t>(p) * T * ldv;
    float* mp = mbuf + static_cast<std::size_t>(p) * T * ldm + cb * V::block;
    // Weights: [points][blocks][k / k_step][block].
    const float* u =
        job.packed + (static_cast<std::size_t>(p) * job.blocks + cb) * (k / Ops::k_step) * V::block;
    int t = 0;
    for (; t + MR <= T; t += MR)
        wino_gemm_tile<V, MR, NV>(vp + t * ldv, ldv, k, u, mp + t * ldm, ldm);
    const int rest = T - t;
    [&]<int... I>(std::integer_sequence<int, I...>)
    {
        ((rest == I + 1 ? wino_gemm_tile<V, I + 1, NV>(vp + t * ldv, ldv, k, u, mp + t * ldm, ldm)
                        : void()),
         ...);
    }
    (std::make_integer_sequence<int, MR - 1>{});
}

template <typename V>
void wino_gemm(const WinoJob<V>& job, int p, int cb, int T, const typename WinoOps<V>::Elem* vbuf,
               float* mbuf)
{
    const int nc = std::min(V::block, job.s->out_c - cb * V::block);
    if (nc > V::lanes)
        wino_gemm_rows<V, 2>(job, p, cb, T, vbuf, mbuf);
    else
        wino_gemm_rows<V, 1>(job, p, cb, T, vbuf, mbuf);
}

/// Output transform of tiles [t0, t1) from mbuf [a*a][T][ldm], bias + ReLU, into the output.
template <typename V, typename S>
void wino_output(const WinoJob<V>& job, int t0, int t1, int tb, int T, const float* mbuf)
{
    using Reg = typename V::Reg;
    constexpr int A = S::a;
    constexpr int M = S::m;
    const Conv2dShape& s = *job.s;
    const std::size_t ldm = static_cast<std::size_t>(job.ldm);
    const std::size_t point_stride = static_cast<std::size_t>(T) * ldm;
    for (int t = t0; t < t1; ++t)
    {
        const int n = t / job.tiles_per_image;
        const int r = t % job.tiles_per_image / job.x.tiles;
        const int c = t % job.x.tiles;
        const int oy0 = job.y.start(r);
        const int ox0 = job.x.start(c);
        int rows = 0, cols = 0;
        while (rows < M && oy0 + s.dilation_h * rows < s.out_h)
            ++rows;
        while (cols < M && ox0 + s.dilation_w * cols < s.out_w)
            ++cols;
        const std::size_t ops = s.out_stride();
        float* image = job.out + static_cast<std::size_t>(n) * s.out_h * s.out_w * ops;
        const float* mt = mbuf + static_cast<std::size_t>(t - tb) * ldm;
        for (int c0 = 0; c0 < s.out_c; c0 += V::lanes)
        {
            const int nc = std::min(V::lanes, s.out_c - c0);
            Reg tmp[A][M];
#pragma GCC unroll 6
            for (int i = 0; i < A; ++i)
            {
                Reg m[A];
#pragma GCC unroll 6
                for (int j = 0; j < A; ++j)
                    m[j] = V::load(mt + (i * A + j) * point_stride + c0);
                S::out_1d(m, tmp[i]);
            }
            const Reg b = job.bias ? V::load_partial(job.bias + c0, nc) : V::zero();
#pragma GCC unroll 4
            for (int j = 0; j < M; ++j)
            {
                Reg col[A], res[M];
#pragma GCC unroll 6
                for (int i = 0; i < A; ++i)
                    col[i] = tmp[i][j];
                S::out_1d(col, res);
                if (j >= cols)
                    continue;
#pragma GCC unroll 4
                for (int i = 0; i < M; ++i)
                {
                    if (i >= rows)
                        continue;
                    Reg y = V::add(res[i], b);
                    if (job.relu)
                        y = V::relu(y, job.relu_params);
                    float* dst = image +
                                 (static_cast<std::size_t>(oy0 + s.dilation_h * i) * s.out_w + ox0 +
                                  s.dilation_w * j) *
                                     ops +
                                 c0;
                    if (nc == V::lanes)
                        V::store(dst, y);
                    else
                        V::store_partial(dst, nc, y);
                }
            }
        }
    }
}

/// One block of tiles [tb, tb + T) through the three stages on the calling thread.
template <typename V, typename S>
void wino_block(const WinoJob<V>& job, int tb, int T, typename WinoOps<V>::Elem* vbuf, float* mbuf)
{
    wino_input<V, S>(job, tb, tb + T, tb, T, vbuf);
    for (int p = 0; p < S::a * S::a; ++p)
        for (int cb = 0; cb < job.blocks; ++cb)
            wino_gemm(job, p, cb, T, vbuf, mbuf);
    wino_output<V, S>(job, tb, tb + T, tb, T, mbuf);
}

template <typename V, typename S>
void winograd_conv(const Conv2dShape& s, const float* in, const float* packed_w, const float* bias,
                   const Activation& act, float* out)
{
    constexpr int k_points = S::a * S::a;
    const int blocks = (s.out_c + V::block - 1) / V::block;
    WinoJob<V> job{&s,
                   in,
                   packed_w,
                   bias,
                   out,
                   act.kind == ActivationKind::relu,
                   V::relu_params(act.max_value, act.negative_slope, act.threshold),
                   WinoAxis(s.out_h, s.dilation_h, S::m),
                   WinoAxis(s.out_w, s.dilation_w, S::m),
                   blocks,
                   blocks * V::block,
                   0};
    job.tiles_per_image = job.y.tiles * job.x.tiles;
    const int tiles = s.n * job.tiles_per_image;
    if (tiles == 0)
        return;

    // Tiles per block: the block's transformed input and GEMM output (a^2 x T x (in_c + ldm)
    // floats) should stay in L2; when the transformed weights are large and the image small,
    // one block of every tile streams the weights once instead of once per block.
    using Elem = typename WinoOps<V>::Elem;
    constexpr double k_l2_budget = 1.0 * 1024 * 1024;
    constexpr double k_elem = sizeof(Elem);
    const double per_tile = k_points * (k_elem * s.in_c + 4.0 * job.ldm);
    const double weight_bytes = k_elem * k_points * s.in_c * job.ldm;
    int T = std::max(V::mr, static_cast<int>(k_l2_budget / per_tile) / V::mr * V::mr);
    if (T >= tiles)
        T = tiles;
    else
    {
        const double blocked = std::ceil(static_cast<double>(tiles) / T) * weight_bytes;
        const double whole = weight_bytes + 2.0 * tiles * per_tile;
        if (whole < blocked)
            T = tiles;
    }
    const int nblocks = (tiles + T - 1) / T;
    // The GEMM output (aligned loads and stores) starts on a 64-byte boundary; vsize in floats.
    const std::size_t vsize =
        (static_cast<std::size_t>(k_points) * T * s.in_c * sizeof(Elem) / 4 + 15) / 16 * 16;
    const std::size_t scratch = vsize + static_cast<std::size_t>(k_points) * T * job.ldm;
    const int threads = oneapi::tbb::this_task_arena::max_concurrency();

    if (nblocks >= 4 * threads)
    {
        // Many blocks: one block per task, each on its thread's scratch (no nested parallelism,
        // so a thread never starts a second block while one is in flight on its scratch).
        oneapi::tbb::parallel_for(0, nblocks,
                                  [&](int b)
                                  {
                                      float* buf = task_scratch(scratch);
                                      const int tb = b * T;
                                      wino_block<V, S>(job, tb, std::min(T, tiles - tb),
                                                       reinterpret_cast<Elem*>(buf), buf + vsize);
                                  });
    }
    else
    {
        // Few blocks: each stage in parallel over tiles, (point x cout block) and tiles, on the
        // calling thread's scratch. Isolated: while it waits, the thread runs only this call's
        // tasks, never another kernel call (another tile's forward) that would reuse the scratch.
        thread_local WinoScratch buffer;
        float* const buf = buffer.get(scratch);
        Elem* vbuf = reinterpret_cast<Elem*>(buf);
        float* mbuf = buf + vsize;
        oneapi::tbb::this_task_arena::isolate(
            [&]
            {
                for (int tb = 0; tb < tiles; tb += T)
                {
                    const int tn = std::min(T, tiles - tb);
                    oneapi::tbb::parallel_for(
                        oneapi::tbb::blocked_range<int>(tb, tb + tn),
                        [&](const oneapi::tbb::blocked_range<int>& r)
                        { wino_input<V, S>(job, r.begin(), r.end(), tb, tn, vbuf); });
                    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<int>(0, k_points * blocks),
                                              [&](const oneapi::tbb::blocked_range<int>& r)
                                              {
                                                  for (int i = r.begin(); i != r.end(); ++i)
                                                      wino_gemm(job, i / blocks, i % blocks, tn,
                                                                vbuf, mbuf);
                                              });
                    oneapi::tbb::parallel_for(
                        oneapi::tbb::blocked_range<int>(tb, tb + tn),
                        [&](const oneapi::tbb::blocked_range<int>& r)
                        { wino_output<V, S>(job, r.begin(), r.end(), tb, tn, mbuf); });
                }
            });
    }
    const bool fused = act.kind == ActivationKind::linear || act.kind == ActivationKind::relu;
    if (!fused) // softmax, sigmoid, tanh: a second pass once every channel of a pixel is there
    {
        const std::size_t pixels = static_cast<std::size_t>(s.n) * s.out_h * s.out_w;
        oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<std::size_t>(0, pixels),
                                  [&](const oneapi::tbb::blocked_range<std::size_t>& r)
                                  {
                                      for (std::size_t i = r.begin(); i != r.end(); ++i)
                                          activate_pixel(act, s.out_c, out + i * s.out_stride());
                                  });
    }
}
