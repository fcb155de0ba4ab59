/* Host harness: runs the generated network on images and writes every layer's output.
 *
 *     host <weights.bin> <images.bin> <count> <trace.bin>
 *
 * images.bin holds `count` inputs of NET_INPUT_BYTES bytes each. For every image the trace
 * gets each layer's output tensor (as it lies in L2 or L3) and then the network's result.
 * Built with host_net.h, which names the network (NET, NET_*). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "host_net.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define NET_CONSTRUCT CAT(NET, _construct)
#define NET_RUN CAT(NET, _run)
#define NET_DESTRUCT CAT(NET, _destruct)

extern FILE *mbdsl_trace_file;

static unsigned char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(*n ? (size_t)*n : 1);
    if (*n && fread(p, 1, (size_t)*n, f) != (size_t)*n) {
        perror(path);
        exit(2);
    }
    fclose(f);
    return p;
}

int main(int argc, char **argv)
{
    struct pi_device cluster = {0}, ram = {0};
    long nw, ni;
    if (argc != 5) {
        fprintf(stderr, "usage: %s weights.bin images.bin count trace.bin\n", argv[0]);
        return 2;
    }
    unsigned char *flash = slurp(argv[1], &nw);
    unsigned char *images = slurp(argv[2], &ni);
    int count = atoi(argv[3]);
    if (nw != NET_FLASH_BYTES || ni != (long)count * NET_INPUT_BYTES) {
        fprintf(stderr, "host: expected %d weight bytes and %d x %d image bytes\n", NET_FLASH_BYTES, count,
                NET_INPUT_BYTES);
        return 2;
    }
    mbdsl_trace_file = fopen(argv[4], "wb");
    if (!mbdsl_trace_file) {
        perror(argv[4]);
        return 2;
    }
    if (NET_CONSTRUCT(&cluster, &ram, flash)) {
        fprintf(stderr, "host: construct failed\n");
        return 3;
    }
    static NET_OUT_T result[NET_OUTPUT_COUNT];
    for (int i = 0; i < count; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        NET_RUN((const NET_IN_T *)(images + (long)i * NET_INPUT_BYTES), result);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fwrite(result, sizeof result[0], NET_OUTPUT_COUNT, mbdsl_trace_file);
        printf("image %d: %.1f ms\n", i, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    }
    NET_DESTRUCT();
    fclose(mbdsl_trace_file);
    return 0;
}
