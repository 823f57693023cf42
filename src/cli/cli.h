/*
 * cli.h - the `liaison` command's sub-commands. main.c only dispatches; each
 * sub-command lives in its own file and returns the process exit status
 * (0 ok, 1 failure of the thing asked, 2 usage or I/O error).
 */
#ifndef LI_CLI_CLI_H
#define LI_CLI_CLI_H

/* argv[0] is the sub-command name ("admin", "validate", ...). */
int cli_admin(int argc, char **argv);      /* admin.c */
int cli_validate(int argc, char **argv);   /* validate.c */
int cli_discover(int argc, char **argv);   /* taxii_cmds.c */
int cli_collections(int argc, char **argv); /* taxii_cmds.c */
int cli_push(int argc, char **argv);       /* taxii_cmds.c */
int cli_pull(int argc, char **argv);       /* taxii_cmds.c */

#endif
