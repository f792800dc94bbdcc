/* fuzz_image.c: JPEG and PNG decoding of any bytes, then the resize that
 * cdt-ingest and cdt-augment run on what decodes.
 *   byte 0   channels (bit 0: 1 or 3); bits 1-7 and bytes 1-4 pick the
 *            output size (1..64 each way) and the crop box inside the image
 *   then     the image file
 * A decode fails with a message or gives an image whose every pixel can be
 * read (ASan checks the buffer); resizing it must stay inside its buffers
 * and, for a box that covers one uniform image, give that value back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdt.h"
#include "cdt_image.h"
#include "cdt_resize.h"

/* Pixels the fuzzer lets an image have: the decoder's own limit is 2^28,
 * which at 3 channels is more than libFuzzer's default memory cap, and
 * decoding that many pixels would time out anyway. 256x256 reaches every
 * path of the decoders (MCU rows, restart intervals, progressive scans,
 * interlace passes) while a mutated header claiming the most costs a
 * millisecond: at 2^20 pixels, decoding the grey of truncated files was
 * most of the run time. */
#define FUZZ_MAX_PIXELS (1u << 16)

static cdt_image *im;
static float *scratch;
static size_t scratch_cap;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (!(im = cdt_image_create()))
        abort();
    return 0;
}

/* A big-endian u32 at p. */
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* Skip inputs whose PNG header, or any JPEG SOF marker, claims more than
 * FUZZ_MAX_PIXELS. libjpeg decodes a truncated file to its full claimed
 * size (the missing rows grey) before cdt reports it truncated, so a
 * 300-byte JPEG claiming 16384x16384 costs 768 MB and seconds: legal under
 * the 2^28 limit, but too slow to fuzz through. */
static int too_big(const uint8_t *p, size_t n)
{
    if (n >= 24 && !memcmp(p, "\x89PNG", 4)) {
        uint64_t w = be32(p + 16), h = be32(p + 20);
        return w * h > FUZZ_MAX_PIXELS;
    }
    for (size_t i = 0; i + 9 <= n; i++)
        if (p[i] == 0xFF && (p[i + 1] & 0xF0) == 0xC0 && p[i + 1] != 0xC4 && p[i + 1] != 0xC8 &&
            p[i + 1] != 0xCC) {
            uint64_t h = (uint64_t)p[i + 5] << 8 | p[i + 6], w = (uint64_t)p[i + 7] << 8 | p[i + 8];
            if (w * h > FUZZ_MAX_PIXELS)
                return 1;
        }
    return 0;
}

static void resize(const uint8_t *px, int c, int h, int w, const uint8_t *pick)
{
    int oh = 1 + pick[0] % 64, ow = 1 + pick[1] % 64;
    int top = pick[2] % h, left = pick[3] % w;
    int bh = 1 + (pick[4] ^ pick[0]) % (h - top), bw = 1 + (pick[4] ^ pick[1]) % (w - left);
    size_t need = cdt_resize_scratch(c, bh, bw, oh, ow);
    if (need > scratch_cap) {
        free(scratch);
        scratch_cap = need;
        if (!(scratch = malloc(need * sizeof *scratch)))
            abort();
    }
    uint8_t *dst = malloc((size_t)c * oh * ow);
    CDT_ASSERT(dst != NULL);
    cdt_resize_u8(dst, oh, ow, px, c, h, w, top, left, bh, bw, scratch);
    /* A uniform box resizes to the same value everywhere: the weights of
     * every output pixel sum to one. */
    int uniform = 1;
    for (int ch = 0; ch < c && uniform; ch++)
        for (int y = top; y < top + bh && uniform; y++)
            for (int x = left; x < left + bw && uniform; x++)
                uniform = px[((size_t)ch * h + y) * w + x] == px[((size_t)ch * h + top) * w + left];
    if (uniform)
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < oh * ow; i++)
                CDT_ASSERT(dst[(size_t)ch * oh * ow + i] == px[((size_t)ch * h + top) * w + left]);
    free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5 || too_big(data + 5, size - 5))
        return 0;
    int channels = data[0] & 1 ? 3 : 1;
    int rc = cdt_image_decode(im, data + 5, size - 5, channels, "fuzz.img");
    if (rc < 0) {
        CDT_ASSERT(cdt_image_errmsg(im)[0] != '\0');
        return 0;
    }
    int c, h, w;
    const uint8_t *px = cdt_image_pixels(im, &c, &h, &w);
    CDT_ASSERT(c == channels && h > 0 && w > 0 && (uint64_t)h * w <= (1u << 28));
    volatile uint8_t sink = px[0] ^ px[(size_t)c * h * w - 1];
    (void)sink;
    resize(px, c, h, w, data);
    return 0;
}
