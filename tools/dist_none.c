/* dist.h without MPI: one process. */
#include "dist.h"

#include <stdlib.h>
#include <string.h>

int dist_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 1;
}

void dist_finalize(void) {}

int dist_rank(void) {
    return 0;
}

int dist_size(void) {
    return 1;
}

char *dist_bcast_string(const char *root_value) {
    return root_value ? strdup(root_value) : NULL;
}

bool dist_all_ok(bool ok, const char *cmd, const char *message) {
    (void)cmd;
    (void)message;
    return ok;
}

bool dist_merge_result(strata_result *r, const strata_op *ops, size_t nops) {
    (void)r;
    (void)ops;
    (void)nops;
    return true;
}
