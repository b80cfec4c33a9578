#include "cli.h"
int cmd_to_zarr(int argc, char **argv) {
    (void)argc;
    (void)argv;
    cli_error("to-zarr", "not built yet");
    return EXIT_RUN;
}
