/* libFuzzer target: the TIFF/BigTIFF header parser and the chunk layout built from it, on a
 * memory buffer. Any bytes must give STRATA_OK or an error, never a crash or a leak. */
#include "kerchunk/kerchunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kc_src s;
    kc_tiff t;
    kc_src_mem(&s, "fuzz.tif", data, size);
    if (kc_tiff_parse(&s, &t) != STRATA_OK) {
        return 0;
    }
    kc_file f = {0};
    kc_read_opts o = {.inline_threshold = 64, .concat_dim = "time"};
    kc_tiff_to_var(&s, &t, "data", &o, &f);
    kc_file_free(&f);
    kc_tiff_free(&t);
    return 0;
}
