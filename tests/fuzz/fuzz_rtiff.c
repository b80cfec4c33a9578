/* libFuzzer target: the remote GeoTIFF header parser (source/rtiff.c) and its block decoder, on
 * a memory buffer: the header bytes a server sends. Any bytes must parse, ask for more bytes
 * than it had, or be refused, and a block whose bytes lie in the buffer must decode or be
 * refused, never crash. */
#include "source/rtiff.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_rtiff t;
    uint64_t need = 0;
    int r = st_rtiff_parse(data, size, &t, &need);
    if (r == ST_RTIFF_MORE && need <= size) {
        abort(); /* more bytes asked for must be more than were given */
    }
    if (r != ST_RTIFF_OK) {
        return 0;
    }
    /* Blocks larger than a few MiB are left out: they test the allocator, not the decoder. */
    size_t out_size = (size_t)t.bw * t.bh * (size_t)GDALGetDataTypeSizeBytes(t.type);
    size_t work_size = st_rtiff_work_size(&t);
    bool small = out_size <= (1u << 22) && work_size <= (1u << 24);
    void *out = small ? malloc(out_size) : NULL;
    void *work = out ? malloc(work_size) : NULL;
    for (size_t i = 0; work && i < t.nstriles && i < 16; i++) {
        if (t.off[i] < size && t.cnt[i] <= size - t.off[i]) {
            int by = (int)((i % ((size_t)t.nbx * t.nby)) / t.nbx);
            int sample = t.separate ? (int)(i / ((size_t)t.nbx * t.nby)) : 0;
            st_rtiff_decode(&t, by, sample, data + t.off[i], (size_t)t.cnt[i], work, out);
        }
    }
    free(work);
    free(out);
    st_rtiff_clear(&t);
    return 0;
}
