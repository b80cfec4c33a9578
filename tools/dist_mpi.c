/* MPI implementation of dist.h. */
#include "dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int started, rank, size = 1;

/* Open MPI, MPICH/PMI and Slurm each mark the processes they launch. */
static bool launched_by_mpi(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                       "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if (getenv(vars[i])) {
            return true;
        }
    }
    return false;
}

int dist_init(int *argc, char ***argv) {
    if (!launched_by_mpi() || MPI_Init(argc, argv) != MPI_SUCCESS) {
        return 1;
    }
    started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

void dist_finalize(void) {
    if (started) {
        MPI_Finalize();
    }
}

int dist_rank(void) {
    return rank;
}

int dist_size(void) {
    return size;
}

char *dist_bcast_string(const char *root_value) {
    long len = rank == 0 ? (root_value ? (long)strlen(root_value) : -1) : 0;
    MPI_Bcast(&len, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    if (len < 0 || len > INT_MAX - 1) {
        return NULL;
    }
    char *s = malloc((size_t)len + 1);
    if (rank == 0 && s) {
        memcpy(s, root_value, (size_t)len + 1);
    }
    MPI_Bcast(s, (int)len + 1, MPI_CHAR, 0, MPI_COMM_WORLD);
    return s;
}

bool dist_all_ok(bool ok, const char *cmd, const char *message) {
    enum { MSG = 1024 };
    int mine = ok, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (all) {
        return true;
    }
    char buf[MSG] = {0};
    /* A NULL message: this rank already said what went wrong. */
    snprintf(buf, sizeof buf, "%s", ok || !message ? "" : message[0] ? message : "failed");
    char *msgs = rank == 0 ? calloc((size_t)size, MSG) : NULL;
    MPI_Gather(buf, MSG, MPI_CHAR, msgs, MSG, MPI_CHAR, 0, MPI_COMM_WORLD);
    for (int r = 0; msgs && r < size; r++) {
        if (msgs[(size_t)r * MSG]) {
            fprintf(stderr, "strata %s: rank %d: %s\n", cmd, r, msgs + (size_t)r * MSG);
        }
    }
    free(msgs);
    return false;
}

static void or_bytes_to_root(void *data, size_t n) {
    const size_t step = 1 << 30;
    for (size_t off = 0; off < n; off += step) {
        int k = (int)(n - off < step ? n - off : step);
        char *p = (char *)data + off;
        MPI_Reduce(rank == 0 ? MPI_IN_PLACE : p, p, k, MPI_BYTE, MPI_BOR, 0, MPI_COMM_WORLD);
    }
}

bool dist_merge_result(strata_result *r, const strata_op *ops, size_t nops) {
    for (size_t g = 0; g < strata_result_groups(r); g++) {
        size_t nq = strata_result_quantiles(r, NULL);
        for (size_t i = 0; i < nops + nq; i++) {
            strata_array a;
            /* Quantiles come after the ops, one array each. */
            bool quantile = i >= nops;
            if (!quantile && ops[i] == STRATA_OP_QUANTILE) {
                continue;
            }
            if ((quantile ? strata_result_quantile_array(r, g, i - nops, &a)
                          : strata_result_array(r, g, ops[i], &a)) != STRATA_OK) {
                return false;
            }
            /* The arrays belong to the result; ranks fill in the tiles they computed. */
            or_bytes_to_root((void *)a.data,
                             (size_t)a.bands * a.rows * a.cols * strata_dtype_size(a.dtype));
        }
    }
    return true;
}
