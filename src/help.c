/* help.c: `silo help`, silo(1) and the example configuration, written
 * from the commands table below and the settings table of config.c; see
 * help.h.
 *
 * The manual page is roff with the man(7) macros. Text from the tables is
 * escaped on the way out (backslashes, minus signs in flags and values, a
 * leading dot or quote), so a table row can hold any plain text. */
#include "help.h"

#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "util/version.h"

struct command {
    const char *synopsis; /* the command and its own flags */
    const char *summary;  /* one line for `silo help` */
    const char *details;  /* more for the manual page; NULL for none */
};

/* One row per command, laid out by hand as a table. */
/* clang-format off */
static const struct command commands[] = {
    {"serve", "run the API and the built-in S3 endpoint",
     "Opens the database (running its migrations) and the stores, then listens on 'listen' and "
     "'s3-listen'. It prints 'api: URL', 's3: URL' and 'data: DIR' on its first lines and logs JSON "
     "lines on stderr. Under systemd (Type=notify) it reports READY=1 once the database, the stores "
     "and both listeners are ready. SIGTERM or SIGINT stop accepting at once and give in-flight "
     "requests and jobs up to 'shutdown-timeout' seconds. It refuses to start on a database whose "
     "schema is newer than the binary (a downgrade), naming both schema versions."},
    {"config [--example]", "print the effective configuration (secrets masked)",
     "With --example, print a configuration file instead that lists every setting with its default, "
     "commented out; settings given as flags are written as active lines "
     "(silo config --example --data /var/lib/silo)."},
    {"token --sub USER [--email E] [--role admin] [--ttl SECONDS]", "print a signed HS256 token",
     "The token is signed with the instance's secret ('jwt-secret') and carries 'jwt-issuer' and "
     "'jwt-audience' when they are set. --ttl defaults to 86400 seconds."},
    {"login-link --sub USER [--email E] [--role admin] [--ttl SECONDS] [--public-url URL]",
     "print a one-time sign-in link to the web console",
     "The link carries a code that works once and expires after --ttl seconds (default 900, at most a "
     "day); opening it signs the browser in as USER. Works beside a running server on the same data "
     "directory or database."},
    {"s3-credentials", "print the built-in S3 endpoint's credentials",
     "Prints AWS_ACCESS_KEY_ID=... and AWS_SECRET_ACCESS_KEY=... lines."},
    {"apikey create --name NAME [--role admin] | list | revoke ID", "manage API keys (stored hashed)",
     "create prints the key once; list prints id, name, role, creation and revocation times."},
    {"presign [--method GET|PUT|HEAD|DELETE|POST] [--expires SECONDS] [--store NAME] s3://BUCKET/KEY",
     "print a presigned URL (POST: the form's url and fields as JSON)", NULL},
    {"reindex [--prefix user_recordings/USER/]",
     "rebuild the recordings index from the store (beside a running server too)", NULL},
    {"jobs list [--state S] [--limit N] | retry ID | cancel ID",
     "list the job queue newest first, requeue a dead or cancelled job, cancel one",
     "States: queued, running, cancelling, done, dead, cancelled."},
    {"man", "print the silo(1) manual page (roff)", NULL},
    {"version", "print the version, the commit and the libraries' versions",
     "--version does the same. The first line is 'silo VERSION (commit COMMIT)'."},
    {"help", "print the commands and the settings", NULL},
};
/* clang-format on */

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

/* The column where summaries start in `silo help`. */
#define USAGE_COLUMN 24

static void print_envs(FILE *out, const struct config_setting_info *s, const char *separator)
{
    for (int e = 0; e < 3 && s->env[e]; e++)
        fprintf(out, "%s%s", e ? separator : "", s->env[e]);
}

void help_print_usage(FILE *out)
{
    fprintf(out, "silo %s: media storage on S3\n\nusage: silo COMMAND [options]\n\ncommands:\n",
            version_string());
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const struct command *c = &commands[i];
        if (strlen(c->synopsis) + 2 < USAGE_COLUMN)
            fprintf(out, "  %-*s%s\n", USAGE_COLUMN - 2, c->synopsis, c->summary);
        else
            fprintf(out, "  %s\n  %-*s%s\n", c->synopsis, USAGE_COLUMN - 2, "", c->summary);
    }
    fprintf(out, "\nsettings (flag, environment, default; flags win over the environment,\n"
                 "which wins over the config file):\n");
    for (size_t i = 0; i < config_setting_count(); i++) {
        struct config_setting_info s;
        config_setting_info(i, &s);
        fprintf(out, "  --%-24s %s\n  %-26s env ", s.name, s.help, "");
        print_envs(out, &s, ", ");
        fprintf(out, "; default '%s'\n", s.fallback);
    }
}

/* ---- the manual page ---- */

/* Writes text escaped for roff. minus: every '-' becomes "\-" (flags,
 * commands and values a reader may type), else hyphens stay. */
static void roff(FILE *out, const char *text, bool minus)
{
    if (*text == '.' || *text == '\'')
        fputs("\\&", out);
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-' && minus)
            fputs("\\-", out);
        else if (*p == '\n')
            fputs("\n.br\n", out);
        else if (*p == ',')
            fputs(",\\:", out); /* a place to break a long list */
        else
            fputc(*p, out);
    }
}

static void man_commands(FILE *out)
{
    fputs(".SH COMMANDS\n", out);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const struct command *c = &commands[i];
        fputs(".TP\n.B silo ", out);
        roff(out, c->synopsis, true);
        fputs("\n", out);
        roff(out, c->summary, false);
        fputs(".\n", out);
        if (c->details) {
            roff(out, c->details, false);
            fputs("\n", out);
        }
    }
}

static void man_settings(FILE *out)
{
    fputs(".SH SETTINGS\n"
          "Every setting has a flag, one or more environment variables and a configuration file key "
          "(the flag without its dashes). Flags win over the environment, which wins over the "
          "configuration file ('config', default none), which wins over the defaults. A value that "
          "does not parse stops silo with a message naming the setting. Booleans accept true/false, "
          "1/0, yes/no, on/off; sizes accept K, M, G and T suffixes (powers of 1024).\n",
          out);
    for (size_t i = 0; i < config_setting_count(); i++) {
        struct config_setting_info s;
        config_setting_info(i, &s);
        fputs(".TP\n.BI \\-\\-", out);
        roff(out, s.name, true);
        fputs(" \" ", out);
        roff(out, s.kind, true);
        fputs("\"\n", out);
        roff(out, s.help, false);
        fputs(".\n.br\nEnvironment: ", out);
        for (int e = 0; e < 3 && s.env[e]; e++) {
            fputs(e ? ", " : "", out);
            fprintf(out, "\\fB");
            roff(out, s.env[e], true);
            fprintf(out, "\\fR");
        }
        fputs(". Default: ", out);
        if (*s.fallback) {
            fputs("\\fB", out);
            roff(out, s.fallback, true);
            fputs("\\fR", out);
        } else {
            fputs("empty", out);
        }
        fputs(s.secret ? " (a secret: masked by \\fBsilo config\\fR).\n" : ".\n", out);
    }
}

void help_print_man(FILE *out)
{
    fprintf(out,
            ".\\\" silo(1), generated by `silo man` from silo's commands and settings tables.\n"
            ".TH SILO 1 \"\" \"silo %s\" \"User Commands\"\n"
            ".ad l\n.nh\n",
            version_string());
    fputs(".SH NAME\nsilo \\- media storage on S3\n"
          ".SH SYNOPSIS\n.B silo\n.I command\n.RI [ options ]\n"
          ".SH DESCRIPTION\n"
          "silo is a single binary that gives applications a media storage backend: an HTTP API for "
          "files, recordings, videos and transcriptions, a built-in S3-compatible endpoint, presigned "
          "URLs, API keys and a job queue. Metadata lives in SQLite in the data directory or in "
          "PostgreSQL; the bytes live on local disk or in a remote S3-compatible store.\n"
          ".PP\n"
          "Every command takes the settings flags listed under SETTINGS (\\-\\-data DIR, ...); a "
          "command's own flags come with it.\n",
          out);
    man_commands(out);
    man_settings(out);
    fputs(".SH CONFIGURATION FILE\n"
          "Lines of \\fIkey\\fR = \\fIvalue\\fR with the flag names as keys; '#' starts a comment. "
          "Extra named stores get a section each, [store \\fINAME\\fR], followed by driver (s3 or fs), "
          "endpoint, region, bucket, access\\-key, secret\\-key, session\\-token, path\\-style, "
          "use\\-ssl and verify\\-ssl. \\fBsilo config \\-\\-example\\fR writes a file with every "
          "setting and its default.\n"
          ".SH FILES\n"
          ".TP\n.I /etc/silo/silo.conf\n"
          "The configuration the Debian package's unit passes to \\fBsilo serve\\fR "
          "(\\-\\-config).\n"
          ".TP\n.I /var/lib/silo\n"
          "The packaged data directory (mode 0700, user silo): \\fIsilo.db\\fR (SQLite, unless 'db' "
          "names PostgreSQL), \\fIinstance.json\\fR (generated secrets, mode 0600) and \\fIstore/\\fR "
          "(the local object store).\n"
          ".TP\n.I /lib/systemd/system/silo.service\n"
          "The hardened systemd unit (Type=notify, user silo). Nothing is enabled at install: "
          "\\fBsystemctl enable \\-\\-now silo\\fR starts it.\n"
          ".SH ENVIRONMENT\n"
          "The variables listed under SETTINGS, and \\fBNOTIFY_SOCKET\\fR, set by systemd, where "
          "\\fBsilo serve\\fR sends READY=1 and STOPPING=1.\n"
          ".SH EXIT STATUS\n"
          "0 on success, 1 when the command failed (the instance cannot be opened, a listener cannot "
          "bind, the database schema is newer than the binary), 2 for bad usage or a bad setting.\n"
          ".SH SEE ALSO\n"
          ".BR systemctl (1),\n.BR journalctl (1).\n"
          "The README and docs/deploy.md in the source tree; /metrics serves silo_build_info.\n",
          out);
}

/* ---- the example configuration ---- */

/* Finds the value argv gives for setting name: "--name VALUE" or
 * "--name=VALUE". NULL when absent. */
static const char *given(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
            continue;
        if (a[2 + n] == '=')
            return a + 3 + n;
        if (a[2 + n] == '\0' && i + 1 < argc)
            return argv[i + 1];
    }
    return NULL;
}

/* Writes text as '#' comment lines of at most COMMENT_WIDTH columns,
 * broken at spaces (a longer word gets a line of its own). */
#define COMMENT_WIDTH 78
static void print_comment(FILE *out, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t len = strlen(p), cut = len;
        if (len > COMMENT_WIDTH - 2) {
            cut = COMMENT_WIDTH - 2;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = strcspn(p, " ");
        }
        fprintf(out, "# %.*s\n", (int)cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
}

/* 1 when flag (without "--", up to '=' or its end) names a setting. */
static bool known_setting(const char *flag)
{
    size_t n = strcspn(flag, "=");
    for (size_t i = 0; i < config_setting_count(); i++) {
        struct config_setting_info s;
        config_setting_info(i, &s);
        if (strlen(s.name) == n && strncmp(s.name, flag, n) == 0)
            return true;
    }
    return false;
}

int help_print_example_config(FILE *out, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 && !known_setting(argv[i] + 2)) {
            fprintf(stderr, "silo config --example: unknown setting '%s' (see 'silo help')\n", argv[i]);
            return 2;
        }
        if (strncmp(argv[i], "--", 2) == 0 && !strchr(argv[i], '='))
            i++; /* its value */
    }
    fprintf(out,
            "# silo configuration: `key = value` lines, the keys are the settings' flags\n"
            "# without their dashes; '#' starts a comment. Written by `silo config --example`\n"
            "# (silo %s): every setting is listed with its help, its environment variables\n"
            "# and its default, commented out. Flags win over the environment, which wins\n"
            "# over this file. `silo config --config FILE` prints what silo makes of it;\n"
            "# silo(1) explains every setting.\n",
            version_string());
    for (size_t i = 0; i < config_setting_count(); i++) {
        struct config_setting_info s;
        config_setting_info(i, &s);
        char about[1024];
        int n = snprintf(about, sizeof about, "%s (%s; environment %s%s%s%s%s", s.help, s.kind, s.env[0],
                         s.env[1] ? ", " : "", s.env[1] ? s.env[1] : "", s.env[2] ? ", " : "",
                         s.env[2] ? s.env[2] : "");
        const char *value = given(argc, argv, s.name);
        if (n > 0 && (size_t)n < sizeof about)
            snprintf(about + n, sizeof about - (size_t)n, value ? "; default '%s')" : ")", s.fallback);
        fputs("\n", out);
        print_comment(out, about);
        if (s.secret)
            fputs("# A secret: keep this file unreadable to others.\n", out);
        if (strcmp(s.name, "config") == 0)
            fputs("# Read from the flag or the environment only: a file cannot name another.\n", out);
        if (value)
            fprintf(out, "%s = %s\n", s.name, value);
        else
            fprintf(out, "#%s =%s%s\n", s.name, *s.fallback ? " " : "", s.fallback);
    }
    fputs("\n# Named stores beyond the default, one section each (after every setting\n"
          "# above: a section lasts to the end of the file or the next section):\n"
          "#[store archive]\n#driver = s3\n#endpoint = https://s3.example.com\n#region = us-east-1\n"
          "#bucket = archive\n#access-key =\n#secret-key =\n#session-token =\n#path-style = false\n"
          "#use-ssl = true\n#verify-ssl = true\n",
          out);
    return 0;
}
