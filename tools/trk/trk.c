/* trk — the trkserve command-line tool. Subcommands are listed in usage(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trk_tool.h"

int trk_cmd_infer(int argc, char **argv); /* infer.c */
int trk_cmd_perf(int argc, char **argv);  /* perf.c */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: trk [--log-level LEVEL] COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  devices            list device modules and devices (and why a module gave none)\n"
            "  bench primitives   throughput of the parallel primitives on one device\n"
            "  bench patatrack    Patatrack events/s, time per stage and memory per device\n"
            "  bench exatrkx      Exa.TrkX time per event, per stage and memory, vs PyTorch\n"
            "  gen                generate simulated events (CMS raw data or TrackML hits)\n"
            "  reco patatrack     pixel tracks and vertices from CMS raw data (in-process)\n"
            "  reco exatrkx       GNN tracks from TrackML spacepoints (event file or hits CSV)\n"
            "  score              score tracks/vertices against truth (TrackML score, efficiency)\n"
            "  infer              send one inference request to a server (or in-process)\n"
            "  perf               throughput and latency of a served model (like perf_analyzer)\n"
            "  version            print the version\n"
            "\n"
            "Run 'trk COMMAND --help' for a command's options.\n"
            "Environment: TRK_LOG_LEVEL (error|warn|info|debug|trace), TRK_NUM_THREADS (CPU\n"
            "device threads), TRK_DEVICE_PATH (extra ':'-separated folders of device modules),\n"
            "TRK_DATA_DIR (reference data; default ../shared/data beside the checkout).\n");
}

int main(int argc, char **argv)
{
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("trk %s\n", TRK_VERSION_STRING);
            return 0;
        }
        if (!strcmp(argv[i], "--log-level") && i + 1 < argc) {
            int l = trk_log_level_parse(argv[i + 1]);
            if (l < 0) {
                fprintf(stderr, "trk: --log-level %s: use error, warn, info, debug or trace\n",
                        argv[i + 1]);
                return 2;
            }
            trk_log_set_level((enum trk_log_level)l);
            i += 2;
            continue;
        }
        fprintf(stderr, "trk: unknown option %s\n\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    if (!strcmp(cmd, "devices"))
        return trk_cmd_devices(argc - i, argv + i);
    if (!strcmp(cmd, "bench"))
        return trk_cmd_bench(argc - i, argv + i);
    if (!strcmp(cmd, "gen"))
        return trk_cmd_gen(argc - i, argv + i);
    if (!strcmp(cmd, "reco"))
        return trk_cmd_reco(argc - i, argv + i);
    if (!strcmp(cmd, "score"))
        return trk_cmd_score(argc - i, argv + i);
    if (!strcmp(cmd, "infer"))
        return trk_cmd_infer(argc - i, argv + i);
    if (!strcmp(cmd, "perf"))
        return trk_cmd_perf(argc - i, argv + i);
    if (!strcmp(cmd, "version")) {
        printf("trk %s\n", TRK_VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "trk: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
