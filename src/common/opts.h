/* Options structs that can grow: the caller's struct, of the size its header had, read over
 * this library's defaults (see "Options structs" in strata.h). */
#ifndef STRATA_COMMON_OPTS_H
#define STRATA_COMMON_OPTS_H

#include "strata.h"

#include <stddef.h>

/* Copies the first given->size bytes of given (an options struct whose first field is
 * `size_t size`) over full, a struct of full_size bytes that the library's _init filled with
 * defaults, and sets full's size to full_size. given NULL keeps the defaults. Fails, naming
 * what (the struct's type), when given->size cannot hold the size field itself
 * (STRATA_ERR_INVALID_ARG: not made by _init) or when a larger struct from a newer header
 * sets fields this library does not know (STRATA_ERR_UNSUPPORTED). */
strata_status st_opts_load(void *full, size_t full_size, const void *given, const char *what);

#endif
