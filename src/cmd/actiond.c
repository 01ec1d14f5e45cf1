/*
 * actiond.c: actiond, the FastCGI worker. Reads the configuration, loads and validates
 * the catalog (or only validates it with --check-catalog), then serves.
 */
#include <stdio.h>

#include "doc/catalog.h"
#include "base/config.h"
#include "base/err.h"
#include "http/worker.h"

int
main(int argc, char **argv)
{
    struct config cfg;
    struct err err = {0};
    struct catalog *cat;
    int rc;

    switch (config_parse(&cfg, argc, argv, stderr)) {
    case CONFIG_EXIT_OK:
        return 0;
    case CONFIG_EXIT_USAGE:
        return 2;
    case CONFIG_RUN:
        break;
    }
    cat = catalog_load(cfg.check_catalog ? cfg.check_catalog : cfg.catalog_path, &err);
    if (cat == NULL) {
        fprintf(stderr, "actiond: invalid catalog: %s\n", err.detail);
        err_clear(&err);
        return 1;
    }
    if (cfg.check_catalog != NULL) {
        printf("%s: valid\n", cfg.check_catalog);
        catalog_free(cat);
        return 0;
    }
    rc = worker_run(&cfg, cat);
    catalog_free(cat);
    return rc;
}
