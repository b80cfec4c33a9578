/* Placeholder until the kerchunk indexer lands. */
#include "internal.h"
