#include "cli.h"
int cmd_kerchunk(int argc, char **argv) {
    (void)argc;
    (void)argv;
    cli_error("kerchunk", "not built yet");
    return EXIT_RUN;
}
