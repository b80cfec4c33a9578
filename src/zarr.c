/* Placeholder until the Zarr writer lands. */
#include "internal.h"
