/* Distributed runs: the same command under mpirun/srun splits the spatial tiles over ranks.
 * Without MPI (or outside a launcher) everything here is a single process. */
#ifndef STRATA_DIST_H
#define STRATA_DIST_H

#include "strata.h"

#include <stdbool.h>

/* Starts MPI when the process was launched by mpirun/srun; returns the number of ranks. */
int dist_init(int *argc, char ***argv);
void dist_finalize(void);
int dist_rank(void);
int dist_size(void);
/* Rank 0's string on every rank (malloc'd; NULL when rank 0 passed NULL). */
char *dist_bcast_string(const char *root_value);
/* True on every rank when ok is true on every rank; otherwise rank 0 prints each failed
 * rank's message (cmd: the command name) and all return false. */
bool dist_all_ok(bool ok, const char *cmd, const char *message);
/* Assembles the tiles every rank computed into rank 0's result (disjoint tiles, zero
 * elsewhere: a bytewise OR is exact). */
bool dist_merge_result(strata_result *r, const strata_op *ops, size_t nops);

#endif
