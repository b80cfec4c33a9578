/* Reading a caller's options struct of any version (common/opts.h). The pattern is the Linux
 * kernel's copy_struct_from_user (openat2, clone3): the caller says how large its struct is;
 * a smaller one is an older caller, whose missing fields keep their defaults, and a larger
 * one is a newer caller, fine as long as it leaves the fields this library lacks at zero. */
#include "common/opts.h"

#include "common/common.h"

#include <string.h>

strata_status st_opts_load(void *full, size_t full_size, const void *given, const char *what) {
    if (!given) {
        memcpy(full, &full_size, sizeof full_size);
        return STRATA_OK;
    }
    size_t size;
    memcpy(&size, given, sizeof size);
    if (size < sizeof size) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "%s: size is %zu: fill the options with %s_init before setting fields", what,
                       size, what);
    }
    const unsigned char *bytes = given;
    for (size_t i = full_size; i < size; i++) {
        if (bytes[i]) {
            return st_fail(STRATA_ERR_UNSUPPORTED,
                           "%s: options from a newer strata (%zu bytes, this library knows "
                           "%zu) set a field this library does not have",
                           what, size, full_size);
        }
    }
    memcpy(full, given, size < full_size ? size : full_size);
    memcpy(full, &full_size, sizeof full_size);
    return STRATA_OK;
}
