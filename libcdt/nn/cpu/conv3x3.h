/* conv3x3.h: the kernels of conv2d.c's direct 3x3 path, written once over
 * a vector type of real and included by conv2d.c once per instruction set
 * (K_ISA: avx512, avx2 or generic, the last 16-byte vectors, SSE2 on
 * x86; each with its own vector width and blocks, K_TARGET its target
 * attribute). The header undefines its parameters at its end. Vectors are GCC's vector extension, so
 * each set gets the same arithmetic in its own width; loads and stores go
 * through memcpy (unaligned, no aliasing questions). conv2d.c is compiled
 * with -ffp-contract=fast, so `acc += a * b` is one FMA where the set has it.
 *
 * The planes are conv2d.c's padded flat layout (see "Direct 3x3" there):
 * the output at position q reads, for tap t of input channel ci, the
 * element at in + ci ldc + q + off[t] (off takes in the plane of a phase
 * as well as the shift). */

#define K_CAT2(a, b) a##_##b
#define K_CAT(a, b) K_CAT2(a, b)
#define K_NAME(name) K_CAT(name, K_ISA)
#define KV K_NAME(d3v)

typedef real KV __attribute__((vector_size(K_VBYTES)));
enum { K_NAME(d3_vl) = K_VBYTES / sizeof(real) };
#define K_VL K_NAME(d3_vl)

K_TARGET
static inline KV K_NAME(d3_load)(const real *p)
{
    KV v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* x in every lane (a broadcast: `x + (KV){0}` would add the zeros). */
K_TARGET
static inline KV K_NAME(d3_splat)(real x)
{
    KV v;
    for (int l = 0; l < K_VL; l++) v[l] = x;
    return v;
}

/* The sum of v's lanes, by halves (vector adds down to 16 bytes): the
 * same order for every entry. */
typedef real K_NAME(d3v32) __attribute__((vector_size(32)));
typedef real K_NAME(d3v16) __attribute__((vector_size(16)));
K_TARGET
static inline real K_NAME(d3_hsum)(KV v)
{
    K_NAME(d3v16) x;
#if K_VBYTES >= 32
    K_NAME(d3v32) y;
#if K_VBYTES == 64
    K_NAME(d3v32) y1;
    memcpy(&y, &v, 32);
    memcpy(&y1, (const char *)&v + 32, 32);
    y += y1;
#else
    memcpy(&y, &v, 32);
#endif
    K_NAME(d3v16) x1;
    memcpy(&x, &y, 16);
    memcpy(&x1, (const char *)&y + 16, 16);
    x += x1;
#else
    memcpy(&x, &v, 16);
#endif
    real a[16 / sizeof(real)];
    memcpy(a, &x, 16);
    for (int w = (int)(16 / sizeof(real)) / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) a[l] += a[l + w];
    return a[0];
}

/* v held in a register: left alone, the compiler folds its load into each
 * FMA that uses it, loading it once per use. */
#if D3_X86
#define K_PIN(v) __asm__("" : "+v"(v))
#else
#define K_PIN(v) (void)0
#endif

/* out (ocb * K_RF, ldo) at positions [0, n) = the kernels wp (ocb, c,
 * ntap, K_RF) over c channels of in (stride ldc) at the taps' offsets;
 * n is a multiple of K_NB vectors. */
K_TARGET
static void K_NAME(d3_forward)(real *out, size_t ldo, const real *in, size_t ldc,
                               const ptrdiff_t *off, int ntap, const real *wp, int c, int ocb,
                               size_t n)
{
    for (int ob = 0; ob < ocb; ob++)
        for (size_t q = 0; q < n; q += K_NB * K_VL) {
            KV acc[K_RF][K_NB];
            #pragma GCC unroll 16
            for (int r = 0; r < K_RF; r++)
                #pragma GCC unroll 4
                for (int j = 0; j < K_NB; j++) acc[r][j] = (KV){0};
            const real *wq = wp + (size_t)ob * c * ntap * K_RF;
            for (int ci = 0; ci < c; ci++) {
                const real *ip = in + ci * ldc + q;
                for (int t = 0; t < ntap; t++, wq += K_RF) {
                    KV v[K_NB];
                    #pragma GCC unroll 4
                    for (int j = 0; j < K_NB; j++) v[j] = K_NAME(d3_load)(ip + off[t] + j * K_VL);
                    #pragma GCC unroll 16
                    for (int r = 0; r < K_RF; r++) {
                        KV wb = K_NAME(d3_splat)(wq[r]);
                        #pragma GCC unroll 4
                        for (int j = 0; j < K_NB; j++) acc[r][j] += wb * v[j];
                    }
                }
            }
            #pragma GCC unroll 16
            for (int r = 0; r < K_RF; r++)
                #pragma GCC unroll 4
                for (int j = 0; j < K_NB; j++)
                    memcpy(out + (size_t)(ob * K_RF + r) * ldo + q + j * K_VL, &acc[r][j], sizeof(KV));
        }
}

/* Rows [o, o + rw) of dw (oc, c, 9) += the sums over positions [0, n) of
 * dout (oc, ldd) times in (c channels of stride ldc) at the 9 taps'
 * offsets; rw <= K_RW, a constant once inlined. */
K_TARGET __attribute__((always_inline))
static inline void K_NAME(d3_weights_rows)(real *dw, const real *dout, size_t ldd, const real *in,
                                          size_t ldc, const ptrdiff_t *off, int o, int rw, int c,
                                          size_t n)
{
    for (int ci = 0; ci < c; ci++) {
        const real *ip = in + ci * ldc;
        KV acc[K_RW][9];
        #pragma GCC unroll 4
        for (int r = 0; r < rw; r++)
            #pragma GCC unroll 9
            for (int t = 0; t < 9; t++) acc[r][t] = (KV){0};
        for (size_t q = 0; q < n; q += K_VL) {
            KV d[K_RW];
            #pragma GCC unroll 4
            for (int r = 0; r < rw; r++) d[r] = K_NAME(d3_load)(dout + (size_t)(o + r) * ldd + q);
            #pragma GCC unroll 9
            for (int t = 0; t < 9; t++) {
                KV v = K_NAME(d3_load)(ip + q + off[t]);
                K_PIN(v);
                #pragma GCC unroll 4
                for (int r = 0; r < rw; r++) acc[r][t] += d[r] * v;
            }
        }
        for (int r = 0; r < rw; r++)
            for (int t = 0; t < 9; t++) dw[((size_t)(o + r) * c + ci) * 9 + t] += K_NAME(d3_hsum)(acc[r][t]);
    }
}

/* dw (oc, c, 9) += the sums over positions [0, n) of dout (oc, ldd) times
 * in (c channels of stride ldc) at the 9 taps' offsets; n is a multiple
 * of K_VL. */
K_TARGET
static void K_NAME(d3_weights)(real *dw, const real *dout, size_t ldd, const real *in, size_t ldc,
                               const ptrdiff_t *off, int oc, int c, size_t n)
{
    ptrdiff_t o9[9];
    memcpy(o9, off, sizeof o9);
    // the rows past the last whole block two at a time: a lone row's 9
    // FMAs wait on its 10 loads (so a block and one row left are done as
    // two pairs); each sum is the same whatever rows share its loop
    int o = 0, whole = oc - oc % K_RW;
    if (K_RW == 3 && oc % K_RW == 1 && whole > 0) whole -= K_RW;
    for (; o < whole; o += K_RW) K_NAME(d3_weights_rows)(dw, dout, ldd, in, ldc, o9, o, K_RW, c, n);
    for (; K_RW > 2 && o + 2 <= oc; o += 2) K_NAME(d3_weights_rows)(dw, dout, ldd, in, ldc, o9, o, 2, c, n);
    for (; o < oc; o++) K_NAME(d3_weights_rows)(dw, dout, ldd, in, ldc, o9, o, 1, c, n);
}

/* n reals from r to d: whole vectors, then the rest, which with AVX-512
 * goes under a mask (rows of 28, 14 or 7 left most of a plain loop's
 * stores to its scalar tail). */
K_TARGET
static inline void K_NAME(d3_row)(real *d, const real *r, int n)
{
    int i = 0;
    for (; i + K_VL <= n; i += K_VL) memcpy(d + i, r + i, K_VBYTES);
#if K_VBYTES == 64
    if (i == n) return;
#ifdef CDT_NN_F64
    __mmask8 m = (__mmask8)((1u << (n - i)) - 1);
    _mm512_mask_storeu_pd(d + i, m, _mm512_maskz_loadu_pd(m, r + i));
#else
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(d + i, m, _mm512_maskz_loadu_ps(m, r + i));
#endif
#else
    for (; i < n; i++) d[i] = r[i];
#endif
}

/* One stride-1 plane (lp) of G images from their channel at x (each ld
 * after the one before), written once, in order: the rows and the zeros
 * between them (a memset first and the rows after it wrote the plane
 * twice, and the stores were most of the copy's time). */
K_TARGET
static void K_NAME(d3_plane_rows)(real *pl, const real *x, size_t ld, int g, size_t lp,
                                  const cdt_conv2d_params *p)
{
    int oh = cdt_conv2d_out_h(p), w = p->w;
    size_t s = (size_t)cdt_conv2d_out_w(p) + 1, end = s + 1 + (size_t)g * (oh + 1) * s;
    CDT_ASSERT(s == (size_t)w + 1 && oh == p->h && end <= lp);
    memset(pl, 0, (s + 1) * sizeof(real));
    real *d = pl + s + 1;
    for (int b = 0; b < g; b++) {
        const real *src = x + (size_t)b * ld;
        for (int y = 0; y < p->h; y++, d += s) {
            K_NAME(d3_row)(d, src + (size_t)y * w, w);
            d[w] = 0;
        }
        memset(d, 0, s * sizeof(real));
        d += s;
    }
    memset(d, 0, (lp - end) * sizeof(real));
}

/* out (G, C, H, W) from the positions of res (C, ld) on a grid of
 * (H, W); with step 2, only its phase (y0, x0) of every row and column. */
K_TARGET
static void K_NAME(d3_from_span)(real *out, const real *res, size_t ld, int g, int c, int h, int w,
                                 int step, int y0, int x0, const cdt_conv2d_params *p)
{
    int oh = cdt_conv2d_out_h(p), cols = (w - x0 + step - 1) / step;
    size_t s = (size_t)cdt_conv2d_out_w(p) + 1;
    for (int b = 0; b < g; b++)
        for (int ci = 0; ci < c; ci++)
            for (int y = 0; y0 + y * step < h; y++) {
                real *d = out + (((size_t)b * c + ci) * h + y0 + (size_t)y * step) * w + x0;
                const real *r = res + ci * ld + ((size_t)b * (oh + 1) + y) * s;
                if (step == 1) K_NAME(d3_row)(d, r, cols);
                else
                    for (int i = 0; i < cols; i++) d[2 * i] = r[i];
            }
}

#undef KV
#undef K_PIN
#undef K_VL
#undef K_NAME
#undef K_CAT
#undef K_CAT2
#undef K_ISA
#undef K_TARGET
#undef K_VBYTES
#undef K_RF
#undef K_NB
#undef K_RW
