/* help.h: the documentation silo prints about itself.
 *
 * One table of commands (help.c) and the settings table (config.c, read
 * through config_setting_info) are the only sources of `silo help`, the
 * silo(1) manual page (`silo man`, installed by `make install`) and the
 * commented example configuration (`silo config --example`, shipped as
 * /etc/silo/silo.conf). A command or setting added to a table shows up in
 * all three; tests/blackbox/test_install.py checks that they agree. */
#ifndef SILO_HELP_H
#define SILO_HELP_H

#include <stdio.h>

/* Writes `silo help`: the commands, then the settings. */
void help_print_usage(FILE *out);

/* Writes silo(1) in roff (man(7) macros). */
void help_print_man(FILE *out);

/* Writes a configuration file that lists every setting with its help and
 * its default, commented out. argv (argc entries, borrowed) holds settings
 * flags, "--name VALUE" or "--name=VALUE": those settings are written as
 * active lines with the given value instead. Returns 0, or 2 after a
 * message on stderr when an argument is not a known setting's flag. */
int help_print_example_config(FILE *out, int argc, char **argv);

#endif
