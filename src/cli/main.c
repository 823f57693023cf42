/* main.c - `liaison`: dispatch to a sub-command (see cli.h). */
#include "cli/cli.h"

#include <stdio.h>
#include <sys/stat.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} cmds[] = {
    {"admin", cli_admin, "administer a hub's data directory"},
    {"validate", cli_validate, "validate STIX 2.1 objects and patterns"},
    {"discover", cli_discover, "show a TAXII server's API roots"},
    {"collections", cli_collections, "list an API root's collections"},
    {"push", cli_push, "add objects from files to a collection"},
    {"pull", cli_pull, "read a collection's objects (resumable)"},
};

static void usage(FILE *f)
{
    size_t i;
    fprintf(f, "usage: liaison COMMAND [ARGS...]\n\ncommands:\n");
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f, "\n'liaison COMMAND --help' tells more.\n");
}

int main(int argc, char **argv)
{
    size_t i;
    /* Files the CLI creates (a hub's database by `admin init`, pull state
     * and output files) are the user's alone unless they say otherwise. */
    umask(077);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "liaison: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
