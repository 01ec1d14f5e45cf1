/*
 * test_config.c: the worker's settings (config.h): defaults, the environment, flags
 * winning over it, every numeric option's range at both ends, and the messages a
 * refused value gets.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"

static const char *const env_names[] = {
    "ACTIOND_DATABASE_URL", "ACTIOND_CATALOG",        "ACTIOND_LISTEN",
    "ACTIOND_WORKERS",      "ACTIOND_PID_FILE",       "ACTIOND_MAX_BODY",
    "ACTIOND_MAX_DEPTH",    "ACTIOND_MAX_STRING",     "ACTIOND_TOKEN_CACHE_SECONDS",
    "ACTIOND_DOC_CACHE",    "ACTIOND_WORKER_SOCKETS", "ACTIOND_FEED",
};

/* Each test runs in its own process: what the runner's environment holds must not leak in. */
static void
clear_env(void)
{
    size_t i;

    for (i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
        unsetenv(env_names[i]);
}

TestSuite(config, .init = clear_env);

/* What config_parse printed, for the assertions; the caller frees. */
struct outcome {
    enum config_result result;
    char *printed;
};

/* Parses the NULL-terminated flags after "actiond" into *c. */
static struct outcome
parse(struct config *c, const char *const *flags)
{
    char *argv[32];
    int argc = 0;
    size_t len = 0;
    struct outcome o = {CONFIG_RUN, NULL};
    FILE *out = open_memstream(&o.printed, &len);

    cr_assert_not_null(out);
    argv[argc++] = (char *)"actiond";
    while (*flags != NULL && argc < 31)
        argv[argc++] = (char *)*flags++;
    argv[argc] = NULL;
    o.result = config_parse(c, argc, argv, out);
    cr_assert_eq(fclose(out), 0);
    return o;
}

static void
expect_refused(const char *flag, const char *value, const char *message)
{
    struct config c;
    const char *flags[] = {flag, value, NULL};
    struct outcome o = parse(&c, flags);

    cr_expect_eq(o.result, CONFIG_EXIT_USAGE, "%s %s was accepted", flag, value);
    cr_expect_not_null(strstr(o.printed, message), "%s %s printed: %s", flag, value, o.printed);
    free(o.printed);
}

Test(config, defaults)
{
    struct config c;
    const char *flags[] = {NULL};
    struct outcome o = parse(&c, flags);

    cr_assert_eq(o.result, CONFIG_RUN);
    cr_expect_str_empty(o.printed);
    cr_expect_str_eq(c.database_url, "postgresql:///actiond");
    cr_expect_not_null(strstr(c.catalog_path, "/catalog/default.json"));
    cr_expect_null(c.listen);
    cr_expect_null(c.pid_file);
    cr_expect_null(c.check_catalog);
    cr_expect_eq(c.workers, 0);
    cr_expect_eq(c.backlog, 1024);
    cr_expect_eq(c.socket_mode, 0666);
    cr_expect_eq(c.max_body, 1024 * 1024);
    cr_expect_eq(c.max_depth, 64);
    cr_expect_eq(c.max_string, 256 * 1024);
    cr_expect_eq(c.token_cache_seconds, 10);
    cr_expect_eq(c.doc_cache_bytes, 8 * 1024 * 1024);
    cr_expect_eq(c.worker_sockets, 0);
    cr_expect_null(c.feed_socket);
    free(o.printed);
}

Test(config, every_flag_sets_its_field)
{
    struct config c;
    const char *flags[] = {"-d",
                           "postgresql://db/x",
                           "-c",
                           "/tmp/cat.json",
                           "-l",
                           "/tmp/s",
                           "-w",
                           "3",
                           "--pid-file",
                           "/tmp/pid",
                           "--backlog",
                           "7",
                           "--socket-mode",
                           "0600",
                           "--max-body",
                           "2048",
                           "--max-depth",
                           "9",
                           "--max-string",
                           "100",
                           "--token-cache-seconds",
                           "0",
                           "--doc-cache",
                           "0",
                           "--worker-sockets",
                           "--feed",
                           "/tmp/feed.sock",
                           NULL};
    struct outcome o = parse(&c, flags);

    cr_assert_eq(o.result, CONFIG_RUN, "%s", o.printed);
    cr_expect_str_eq(c.database_url, "postgresql://db/x");
    cr_expect_str_eq(c.catalog_path, "/tmp/cat.json");
    cr_expect_str_eq(c.listen, "/tmp/s");
    cr_expect_str_eq(c.pid_file, "/tmp/pid");
    cr_expect_eq(c.workers, 3);
    cr_expect_eq(c.backlog, 7);
    cr_expect_eq(c.socket_mode, 0600);
    cr_expect_eq(c.max_body, 2048);
    cr_expect_eq(c.max_depth, 9);
    cr_expect_eq(c.max_string, 100);
    cr_expect_eq(c.token_cache_seconds, 0);
    cr_expect_eq(c.doc_cache_bytes, 0);
    cr_expect_eq(c.worker_sockets, 1);
    cr_expect_str_eq(c.feed_socket, "/tmp/feed.sock");
    free(o.printed);
}

/* Each numeric option at both ends of its range, and one past each end. */
static const struct {
    const char *flag;
    const char *lowest, *below;
    const char *highest, *above;
    const char *range; /* as the refusal names it */
} ranges[] = {
    {"--workers", "0", "-1", "1024", "1025", "from 0 to 1024"},
    {"--backlog", "1", "0", "65535", "65536", "from 1 to 65535"},
    {"--socket-mode", "0", "-1", "0777", "01000", "octal number from 0 to 0777"},
    {"--max-body", "64", "63", "67108864", "67108865", "from 64 to 67108864"},
    {"--max-depth", "2", "1", "1000", "1001", "from 2 to 1000"},
    {"--max-string", "16", "15", "67108864", "67108865", "from 16 to 67108864"},
    {"--token-cache-seconds", "0", "-1", "3600", "3601", "from 0 to 3600"},
    {"--doc-cache", "0", "-1", "1073741824", "1073741825", "from 0 to 1073741824"},
};

Test(config, numbers_at_both_ends_of_their_range)
{
    size_t i;

    for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        const char *ends[] = {ranges[i].lowest, ranges[i].highest};
        size_t e;

        for (e = 0; e < 2; e++) {
            struct config c;
            const char *flags[] = {ranges[i].flag, ends[e], NULL};
            struct outcome o = parse(&c, flags);

            cr_expect_eq(o.result, CONFIG_RUN, "%s %s: %s", ranges[i].flag, ends[e], o.printed);
            free(o.printed);
        }
        expect_refused(ranges[i].flag, ranges[i].below, ranges[i].range);
        expect_refused(ranges[i].flag, ranges[i].above, ranges[i].range);
    }
}

Test(config, the_highest_values_land_in_their_fields)
{
    struct config c;
    const char *flags[] = {"--max-body", "67108864",  "--doc-cache", "1073741824", "--socket-mode",
                           "777",        "--workers", "1024",        NULL};
    struct outcome o = parse(&c, flags);

    cr_assert_eq(o.result, CONFIG_RUN, "%s", o.printed);
    cr_expect_eq(c.max_body, 64u * 1024 * 1024);
    cr_expect_eq(c.doc_cache_bytes, 1024u * 1024 * 1024);
    cr_expect_eq(c.socket_mode, 0777, "socket mode is read as octal with or without the 0");
    cr_expect_eq(c.workers, 1024);
    free(o.printed);
}

Test(config, what_is_not_a_whole_number_is_refused_with_its_text)
{
    expect_refused("--workers", "", "--workers must be a number from 0 to 1024, not \"\"");
    expect_refused("--workers", "2x", "not \"2x\"");
    expect_refused("--workers", "1.5", "not \"1.5\"");
    expect_refused("--workers", " ", "not \" \"");
    expect_refused("--max-body", "99999999999999999999999", "--max-body must be a number");
    expect_refused("--socket-mode", "0668", "--socket-mode must be an octal number");
    expect_refused("--socket-mode", "rw", "not \"rw\"");
}

Test(config, the_environment_applies_and_flags_win)
{
    struct config c;
    const char *none[] = {NULL};
    const char *flags[] = {"--max-depth", "12", "-w", "5", NULL};
    struct outcome o;

    cr_assert_eq(setenv("ACTIOND_MAX_DEPTH", "20", 1), 0);
    cr_assert_eq(setenv("ACTIOND_WORKERS", "2", 1), 0);
    cr_assert_eq(setenv("ACTIOND_DATABASE_URL", "postgresql:///fromenv", 1), 0);
    cr_assert_eq(setenv("ACTIOND_DOC_CACHE", "4096", 1), 0);
    cr_assert_eq(setenv("ACTIOND_FEED", "/run/feed.sock", 1), 0);
    /* set but empty is the same as unset */
    cr_assert_eq(setenv("ACTIOND_MAX_BODY", "", 1), 0);

    o = parse(&c, none);
    cr_assert_eq(o.result, CONFIG_RUN, "%s", o.printed);
    cr_expect_eq(c.max_depth, 20);
    cr_expect_eq(c.workers, 2);
    cr_expect_str_eq(c.database_url, "postgresql:///fromenv");
    cr_expect_eq(c.doc_cache_bytes, 4096);
    cr_expect_str_eq(c.feed_socket, "/run/feed.sock");
    cr_expect_eq(c.max_body, 1024 * 1024);
    free(o.printed);

    o = parse(&c, flags);
    cr_assert_eq(o.result, CONFIG_RUN, "%s", o.printed);
    cr_expect_eq(c.max_depth, 12);
    cr_expect_eq(c.workers, 5);
    cr_expect_eq(c.doc_cache_bytes, 4096, "a flag changes only its own setting");
    free(o.printed);
}

Test(config, a_bad_environment_value_names_its_variable)
{
    struct config c;
    const char *flags[] = {"--max-body", "2048", NULL};
    struct outcome o;

    cr_assert_eq(setenv("ACTIOND_MAX_BODY", "lots", 1), 0);
    o = parse(&c, flags);
    cr_expect_eq(o.result, CONFIG_EXIT_USAGE, "a valid flag does not hide a bad variable");
    cr_expect_not_null(strstr(o.printed, "--max-body must be a number from 64 to 67108864, "
                                         "not \"lots\""),
                       "%s", o.printed);
    cr_expect_not_null(strstr(o.printed, "(from ACTIOND_MAX_BODY)"), "%s", o.printed);
    free(o.printed);
}

Test(config, worker_sockets_from_the_environment)
{
    struct config c;
    const char *flags[] = {"-w", "2", "-l", "/tmp/actiond.sock", NULL};
    struct outcome o;

    cr_assert_eq(setenv("ACTIOND_WORKER_SOCKETS", "1", 1), 0);
    o = parse(&c, flags);
    cr_expect_eq(o.result, CONFIG_RUN, "%s", o.printed);
    cr_expect_eq(c.worker_sockets, 1);
    free(o.printed);

    cr_assert_eq(setenv("ACTIOND_WORKER_SOCKETS", "0", 1), 0);
    o = parse(&c, flags);
    cr_expect_eq(o.result, CONFIG_RUN, "%s", o.printed);
    cr_expect_eq(c.worker_sockets, 0);
    free(o.printed);

    cr_assert_eq(setenv("ACTIOND_WORKER_SOCKETS", "yes", 1), 0);
    o = parse(&c, flags);
    cr_expect_eq(o.result, CONFIG_EXIT_USAGE);
    cr_expect_not_null(strstr(o.printed, "ACTIOND_WORKER_SOCKETS must be 0 or 1, not \"yes\""),
                       "%s", o.printed);
    free(o.printed);
}

Test(config, worker_sockets_need_prefork_workers_on_a_unix_socket)
{
    const char *no_workers[] = {"--worker-sockets", "-l", "/tmp/s", NULL};
    const char *no_listen[] = {"--worker-sockets", "-w", "2", NULL};
    const char *tcp[] = {"--worker-sockets", "-w", "2", "-l", "127.0.0.1:9000", NULL};
    const char *const *cases[] = {no_workers, no_listen, tcp};
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config c;
        struct outcome o = parse(&c, cases[i]);

        cr_expect_eq(o.result, CONFIG_EXIT_USAGE, "case %zu", i);
        cr_expect_not_null(strstr(o.printed, "--worker-sockets needs --workers N"), "case %zu: %s",
                           i, o.printed);
        free(o.printed);
    }
}

Test(config, help_unknown_flags_and_stray_arguments)
{
    struct config c;
    const char *help[] = {"--help", NULL};
    const char *unknown[] = {"--no-such-flag", NULL};
    const char *missing[] = {"--workers", NULL};
    const char *stray[] = {"-w", "1", "extra", NULL};
    struct outcome o;

    o = parse(&c, help);
    cr_expect_eq(o.result, CONFIG_EXIT_OK);
    cr_expect_not_null(strstr(o.printed, "usage: actiond"), "%s", o.printed);
    free(o.printed);

    o = parse(&c, unknown);
    cr_expect_eq(o.result, CONFIG_EXIT_USAGE);
    cr_expect_not_null(strstr(o.printed, "usage: actiond"), "%s", o.printed);
    free(o.printed);

    o = parse(&c, missing);
    cr_expect_eq(o.result, CONFIG_EXIT_USAGE);
    free(o.printed);

    o = parse(&c, stray);
    cr_expect_eq(o.result, CONFIG_EXIT_USAGE);
    cr_expect_not_null(strstr(o.printed, "unexpected argument \"extra\""), "%s", o.printed);
    free(o.printed);
}
