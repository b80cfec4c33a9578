/* libFuzzer target: the GeoTIFF GeoKey tag reader that speeds up the CRS check. Any bytes
 * must give true or false, never a read out of bounds. */
#include "source/source.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    enum { CAP = 65536 };
    unsigned char *out = malloc(CAP);
    size_t len = 0;
    if (out && st_geokeys_from_bytes(data, size, out, CAP, &len) && len > CAP) {
        abort();
    }
    free(out);
    return 0;
}
