/* libFuzzer target: the NetCDF3 (CDF-1, CDF-2, CDF-5) header parser, on a memory buffer.
 * Any bytes must give STRATA_OK or an error, never a crash or a leak. */
#include "kerchunk/kerchunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kc_src s;
    kc_file f;
    kc_src_mem(&s, "fuzz.nc", data, size);
    kc_read_opts o = {.inline_threshold = 64, .concat_dim = "time"};
    if (kc_nc3_read(&s, &o, &f) == STRATA_OK) {
        kc_file_free(&f);
    }
    return 0;
}
