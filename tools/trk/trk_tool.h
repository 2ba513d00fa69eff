#ifndef TRK_TOOL_H
#define TRK_TOOL_H

#include "trk/device.h"
#include "trk/log.h"

/* Each returns the process exit status: 0 ok, 1 failure, 2 usage error. argv[0] is
 * the subcommand name. */
int trk_cmd_devices(int argc, char **argv);
int trk_cmd_bench(int argc, char **argv);
int trk_cmd_gen(int argc, char **argv);   /* gen.c */
int trk_cmd_score(int argc, char **argv); /* score.c */
int trk_cmd_reco(int argc, char **argv);  /* reco.c */
int trk_cmd_bench_patatrack(int argc, char **argv); /* reco.c; argv[0] = "patatrack" */
int trk_cmd_reco_exatrkx(int argc, char **argv);    /* exatrkx.c; argv[0] = "exatrkx" */
int trk_cmd_bench_exatrkx(int argc, char **argv);   /* exatrkx.c; argv[0] = "exatrkx" */

/* Opens the registry, logging why on failure. */
struct trk_registry *trk_tool_open_registry(void);

/* The benchmarks' default device list into buf: "cpu", then every other device the
 * registry finds, comma-separated ("cpu" alone when the registry cannot be opened). */
void trk_tool_default_devices(char *buf, size_t len);

/* Human-readable byte count ("15.6 GiB") into buf. */
const char *trk_tool_bytes(uint64_t bytes, char *buf, size_t len);

#endif
