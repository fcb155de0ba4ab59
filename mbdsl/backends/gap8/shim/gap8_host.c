/* Host implementation of the GAP8 SDK calls in mbdsl_sdk.h: a checking model of the chip.
 *
 * - L1, L2 and L3 allocations are counted against the budgets given at compile time
 *   (MBDSL_HOST_L1, _L2, _L3 bytes; MBDSL_HOST_CORES); exceeding one is a loud failure.
 * - Cluster DMA (L2 <-> L1) and micro-DMA (L3 <-> L2) copy their data only when waited
 *   for, as late as the hardware may. A page of an L1 allocation all of whose bytes a
 *   pending transfer writes is inaccessible (PROT_NONE), one all of whose bytes pending
 *   transfers read or write is read-only: a kernel that touches such a buffer before its
 *   DMA was waited for faults, and the fault is reported with the layer, the buffer and the
 *   DMA. Buffers that share a page (the generated code's L1 arena) are checked at every
 *   kernel fork instead (mbdsl_trace_kernel): the bytes a kernel reads must have no pending
 *   writer, the bytes it writes no pending transfer at all.
 * - Every byte of L1, L2 and L3 counts the pending transfers that read and write it; a
 *   transfer that reads bytes another one has not finished writing (or writes bytes another
 *   one is still reading or writing) fails.
 * - A cluster task that returns with transfers not waited for fails.
 * - With MBDSL_DMA_LOG set to a path, every transfer is logged there as it is issued: layer,
 *   c (cluster DMA) or u (micro-DMA), 1 towards L1 (L2 for micro-DMA) or 0 back, the offset
 *   in its external allocation, the offset in its local one, size, line length, stride.
 * - pi_cl_team_fork runs the entry once per core id, one core after the other.
 * Cluster DMA waits complete every earlier command too (the cluster DMA is in order);
 * micro-DMA waits complete only their request.
 */
#define _GNU_SOURCE
#include "mbdsl_sdk.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MBDSL_HOST_L1
#define MBDSL_HOST_L1 60000
#endif
#ifndef MBDSL_HOST_L2
#define MBDSL_HOST_L2 392000
#endif
#ifndef MBDSL_HOST_L3
#define MBDSL_HOST_L3 (8u << 20)
#endif
#ifndef MBDSL_HOST_CORES
#define MBDSL_HOST_CORES 8
#endif

#define MAX_ALLOCS 256
#define MAX_OPS 64

enum { SP_L1 = 1, SP_L2 = 2, SP_L3 = 3 };

typedef struct {
    int live, space;
    uint8_t *p;         /* host memory */
    uint32_t addr;      /* L3 address (L3 allocations) */
    uint32_t size;
    size_t map;         /* mapped bytes (L1: whole pages) */
    uint8_t *rcount, *wcount;
    int in_pend, out_pend;
} alloc_t;

typedef struct {
    int active, udma, ext2loc;
    uint32_t id;
    alloc_t *ea, *la;   /* external (L2 or L3) and local (L1 or L2) allocations */
    uint32_t eoff, loff, size, stride, length;
} op_t;

static alloc_t allocs[MAX_ALLOCS];
static op_t ops[MAX_OPS];
static uint32_t used[4];
static uint32_t next_id = 1, l3_next = 0x1000;
static int cur_core = 0, in_cluster = 0, in_fork = 0, cur_layer = -1;
static const char *cur_name = "(before the first layer)";
static long page_size;
static FILE *dma_log;

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mbdsl gap8 host: FAIL in layer %d '%s': ", cur_layer, cur_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(stderr);
    _exit(86);
}

static const char *space_name(int s) { return s == SP_L1 ? "L1" : s == SP_L2 ? "L2" : "L3"; }
static int alloc_index(const alloc_t *a) { return (int)(a - allocs); }

/* The pending transfer on L1 allocation `a` that covers byte `off` (writes it if `write`). */
static op_t *pending_on(const alloc_t *a, uint32_t off, int any)
{
    for (int k = 0; k < MAX_OPS; k++) {
        op_t *o = &ops[k];
        if (o->active && o->la == a && off >= o->loff && off < o->loff + o->size && (any || o->ext2loc))
            return o;
    }
    return 0;
}

static void segv(int sig, siginfo_t *si, void *ctx)
{
    (void)sig; (void)ctx;
    uint8_t *addr = (uint8_t *)si->si_addr;
    for (int i = 0; i < MAX_ALLOCS; i++) {
        alloc_t *a = &allocs[i];
        if (a->live && a->space == SP_L1 && addr >= a->p && addr < a->p + a->map) {
            op_t *o = pending_on(a, (uint32_t)(addr - a->p), 1);
            if (o)
                fail("core %d accessed L1 buffer #%d (%u B) at +%ld while %s #%u %s it was not waited for",
                     cur_core, i, a->size, (long)(addr - a->p), o->udma ? "micro-DMA" : "DMA", o->id,
                     o->ext2loc ? "into" : "out of");
            fail("core %d accessed L1 buffer #%d at +%ld: protected without a pending DMA", cur_core, i,
                 (long)(addr - a->p));
        }
    }
    fail("segmentation fault at %p (outside every L1 buffer)", (void *)addr);
}

static void init(void)
{
    static int done = 0;
    if (done)
        return;
    done = 1;
    page_size = sysconf(_SC_PAGESIZE);
    const char *log_path = getenv("MBDSL_DMA_LOG");
    if (log_path && !(dma_log = fopen(log_path, "w")))
        fail("cannot open the DMA log %s", log_path);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, 0);
    sigaction(SIGBUS, &sa, 0);
}

static uint32_t budget(int space)
{
    return space == SP_L1 ? MBDSL_HOST_L1 : space == SP_L2 ? MBDSL_HOST_L2 : MBDSL_HOST_L3;
}

static alloc_t *new_alloc(int space, uint32_t size)
{
    init();
    uint32_t rounded = (size + 3u) & ~3u;
    if (used[space] + rounded > budget(space))
        fail("%s budget exceeded: allocating %u B with %u B in use, budget %u B", space_name(space), size, used[space],
             budget(space));
    for (int i = 0; i < MAX_ALLOCS; i++) {
        alloc_t *a = &allocs[i];
        if (a->live)
            continue;
        memset(a, 0, sizeof *a);
        a->live = 1;
        a->space = space;
        a->size = size;
        if (space == SP_L1) {
            /* Own pages per buffer, so that protecting one never hides another. */
            a->map = ((size_t)size + (size_t)page_size - 1) / (size_t)page_size * (size_t)page_size;
            if (a->map == 0)
                a->map = (size_t)page_size;
            a->p = mmap(0, a->map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (a->p == MAP_FAILED)
                fail("mmap of %u B failed", size);
            memset(a->p, 0xA5, a->map); /* L1 is not zeroed on the chip */
        } else {
            a->p = malloc(size ? size : 1);
            if (!a->p)
                fail("host out of memory");
            memset(a->p, 0x5A, size);
        }
        a->rcount = calloc(size ? size : 1, 1);
        a->wcount = calloc(size ? size : 1, 1);
        used[space] += rounded;
        return a;
    }
    fail("too many allocations");
}

static void free_alloc(alloc_t *a, uint32_t size)
{
    if (a->size != size)
        fail("%s free of %u B for an allocation of %u B", space_name(a->space), size, a->size);
    if (a->in_pend || a->out_pend)
        fail("%s buffer #%d freed while a transfer on it is pending", space_name(a->space), alloc_index(a));
    for (uint32_t i = 0; i < a->size; i++)
        if (a->rcount[i] || a->wcount[i])
            fail("%s buffer #%d freed while a transfer on it is pending", space_name(a->space), alloc_index(a));
    used[a->space] -= (a->size + 3u) & ~3u;
    if (a->space == SP_L1)
        munmap(a->p, a->map);
    else
        free(a->p);
    free(a->rcount);
    free(a->wcount);
    a->live = 0;
}

static alloc_t *find_ptr(int space, uintptr_t p, uint32_t len, uint32_t *off, const char *what)
{
    for (int i = 0; i < MAX_ALLOCS; i++) {
        alloc_t *a = &allocs[i];
        if (a->live && a->space == space && p >= (uintptr_t)a->p && p + len <= (uintptr_t)a->p + a->size) {
            *off = (uint32_t)(p - (uintptr_t)a->p);
            return a;
        }
    }
    fail("%s: %u B at %p are not inside one %s allocation", what, len, (void *)p, space_name(space));
}

static alloc_t *find_l3(uint32_t addr, uint32_t len, uint32_t *off, const char *what)
{
    for (int i = 0; i < MAX_ALLOCS; i++) {
        alloc_t *a = &allocs[i];
        if (a->live && a->space == SP_L3 && addr >= a->addr && addr + len <= a->addr + a->size) {
            *off = addr - a->addr;
            return a;
        }
    }
    fail("%s: %u B at L3 address 0x%x are not inside one L3 allocation", what, len, addr);
}

/* Protect the pages of L1 allocation `a` that bytes [off, off + size) lie on: a page none
 * of whose bytes a kernel may touch is inaccessible, one none of whose bytes it may write
 * is read-only (bytes past the allocation's end count as untouchable). */
static void protect(alloc_t *a, uint32_t off, uint32_t size)
{
    if (a->space != SP_L1)
        return;
    size_t ps = (size_t)page_size;
    for (size_t pg = off / ps * ps; pg < (size_t)off + size; pg += ps) {
        int no_read = 1, no_write = 1;
        for (size_t i = pg; i < pg + ps && i < a->size; i++) {
            no_read &= a->wcount[i] != 0;
            no_write &= a->wcount[i] != 0 || a->rcount[i] != 0;
        }
        int prot = no_read ? PROT_NONE : no_write ? PROT_READ : PROT_READ | PROT_WRITE;
        if (mprotect(a->p + pg, ps, prot))
            fail("mprotect failed");
    }
}

/* Visit the bytes of the strided (external) side: lines of `length` bytes, `stride` apart. */
#define FOR_EXT_BYTES(o, i)                                                                  \
    for (uint32_t line_ = 0; line_ < (o)->size / (o)->length; line_++)                      \
        for (uint32_t i = (o)->eoff + line_ * (o)->stride, e_ = i + (o)->length; i < e_; i++)

static void mark(op_t *o, int delta)
{
    /* Reads: the source side; writes: the destination side. */
    uint8_t *er = o->ext2loc ? o->ea->rcount : o->ea->wcount;
    uint8_t *lw = o->ext2loc ? o->la->wcount : o->la->rcount;
    FOR_EXT_BYTES(o, i) er[i] = (uint8_t)(er[i] + delta);
    for (uint32_t i = o->loff; i < o->loff + o->size; i++)
        lw[i] = (uint8_t)(lw[i] + delta);
}

static void check_conflicts(op_t *o, const char *what)
{
    /* A transfer must not read bytes with a pending writer, nor write bytes with a pending
     * reader or writer. */
    alloc_t *src = o->ext2loc ? o->ea : o->la, *dst = o->ext2loc ? o->la : o->ea;
    if (o->ext2loc) {
        FOR_EXT_BYTES(o, i) if (src->wcount[i])
            fail("%s #%u reads %s byte +%u of buffer #%d that a pending transfer has not finished writing (missing wait)",
                 what, o->id, space_name(src->space), i, alloc_index(src));
        for (uint32_t i = o->loff; i < o->loff + o->size; i++)
            if (dst->wcount[i] || dst->rcount[i])
                fail("%s #%u writes %s byte +%u of buffer #%d while another transfer on it is pending (missing wait)",
                     what, o->id, space_name(dst->space), i, alloc_index(dst));
    } else {
        for (uint32_t i = o->loff; i < o->loff + o->size; i++)
            if (src->wcount[i])
                fail("%s #%u reads %s byte +%u of buffer #%d that a pending transfer has not finished writing (missing wait)",
                     what, o->id, space_name(src->space), i, alloc_index(src));
        FOR_EXT_BYTES(o, i) if (dst->wcount[i] || dst->rcount[i])
            fail("%s #%u writes %s byte +%u of buffer #%d while another transfer on it is pending (missing wait)",
                 what, o->id, space_name(dst->space), i, alloc_index(dst));
    }
}

static uint32_t issue(int udma, alloc_t *ea, uint32_t eoff, alloc_t *la, uint32_t loff, uint32_t size, uint32_t stride,
                      uint32_t length, int ext2loc)
{
    const char *what = udma ? "micro-DMA" : "DMA";
    if (!in_cluster)
        fail("%s issued outside a cluster task", what);
    if (in_fork)
        fail("%s issued from a forked kernel (core %d): only the master core drives DMA here", what, cur_core);
    if (size == 0 || length == 0 || size % length)
        fail("%s of %u B in lines of %u B", what, size, length);
    if (size / length > 1 && stride < length)
        fail("%s: 2-D stride %u is smaller than the line length %u", what, stride, length);
    uint32_t extent = (size / length - 1) * stride + length;
    if (eoff + extent > ea->size)
        fail("%s: the 2-D transfer (%u lines of %u B, stride %u) runs %u B past the end of %s buffer #%d", what,
             size / length, length, stride, eoff + extent - ea->size, space_name(ea->space), alloc_index(ea));
    for (int k = 0; k < MAX_OPS; k++) {
        op_t *o = &ops[k];
        if (o->active)
            continue;
        o->active = 1;
        o->udma = udma;
        o->ext2loc = ext2loc;
        o->id = next_id++;
        o->ea = ea; o->la = la; o->eoff = eoff; o->loff = loff;
        o->size = size; o->stride = stride; o->length = length;
        check_conflicts(o, what);
        if (dma_log)
            fprintf(dma_log, "%d %c %d %u %u %u %u %u\n", cur_layer, udma ? 'u' : 'c', ext2loc, eoff, loff, size, length,
                    stride);
        mark(o, +1);
        if (ext2loc) la->in_pend++; else la->out_pend++;
        protect(la, loff, size);
        return o->id;
    }
    fail("more than %d transfers pending", MAX_OPS);
}

static void complete(op_t *o)
{
    alloc_t *la = o->la;
    if (o->ext2loc) la->in_pend--; else la->out_pend--;
    mark(o, -1);
    protect(la, o->loff, o->size);
    uint32_t pos = o->loff;
    for (uint32_t line = 0; line < o->size / o->length; line++) {
        uint8_t *e = o->ea->p + o->eoff + line * o->stride;
        if (o->ext2loc) memcpy(la->p + pos, e, o->length);
        else memcpy(e, la->p + pos, o->length);
        pos += o->length;
    }
    o->active = 0;
}

/* ---- cluster ---- */

int pi_core_id(void) { return cur_core; }

void pi_cl_team_fork(int nb_cores, void (*entry)(void *arg), void *arg)
{
    if (!in_cluster)
        fail("pi_cl_team_fork outside a cluster task");
    if (nb_cores < 1 || nb_cores > MBDSL_HOST_CORES)
        fail("fork on %d cores; the cluster has %d", nb_cores, MBDSL_HOST_CORES);
    in_fork = 1;
    for (int c = 0; c < nb_cores; c++) {
        cur_core = c;
        entry(arg);
    }
    cur_core = 0;
    in_fork = 0;
}

struct pi_cluster_task *pi_cluster_task(struct pi_cluster_task *task, void (*entry)(void *arg), void *arg)
{
    task->entry = entry;
    task->arg = arg;
    return task;
}

int pi_cluster_send_task_to_cl(struct pi_device *device, struct pi_cluster_task *task)
{
    (void)device;
    init();
    in_cluster = 1;
    task->entry(task->arg);
    in_cluster = 0;
    for (int k = 0; k < MAX_OPS; k++)
        if (ops[k].active)
            fail("the cluster task ended with %s #%u never waited for", ops[k].udma ? "micro-DMA" : "DMA", ops[k].id);
    return 0;
}

/* ---- memory ---- */

void *pi_cl_l1_malloc(struct pi_device *device, uint32_t size)
{
    (void)device;
    return new_alloc(SP_L1, size)->p;
}

void pi_cl_l1_free(struct pi_device *device, void *chunk, uint32_t size)
{
    uint32_t off;
    (void)device;
    alloc_t *a = find_ptr(SP_L1, (uintptr_t)chunk, 0, &off, "pi_cl_l1_free");
    if (off)
        fail("pi_cl_l1_free of a pointer inside a buffer");
    free_alloc(a, size);
}

void *pi_l2_malloc(uint32_t size) { return new_alloc(SP_L2, size)->p; }

void pi_l2_free(void *chunk, uint32_t size)
{
    uint32_t off;
    free_alloc(find_ptr(SP_L2, (uintptr_t)chunk, 0, &off, "pi_l2_free"), size);
}

int32_t pi_ram_alloc(struct pi_device *device, uint32_t *addr, uint32_t size)
{
    (void)device;
    alloc_t *a = new_alloc(SP_L3, size);
    a->addr = l3_next;
    l3_next += (size + 63u) & ~63u;
    *addr = a->addr;
    return 0;
}

int32_t pi_ram_free(struct pi_device *device, uint32_t addr, uint32_t size)
{
    uint32_t off;
    (void)device;
    free_alloc(find_l3(addr, 0, &off, "pi_ram_free"), size);
    return 0;
}

void pi_ram_write(struct pi_device *device, uint32_t pi_ram_addr, void *data, uint32_t size)
{
    uint32_t off;
    (void)device;
    alloc_t *a = find_l3(pi_ram_addr, size, &off, "pi_ram_write");
    for (uint32_t i = off; i < off + size; i++)
        if (a->rcount[i] || a->wcount[i])
            fail("pi_ram_write over L3 bytes with a pending transfer");
    memcpy(a->p + off, data, size);
}

void pi_ram_read(struct pi_device *device, uint32_t pi_ram_addr, void *data, uint32_t size)
{
    uint32_t off;
    (void)device;
    alloc_t *a = find_l3(pi_ram_addr, size, &off, "pi_ram_read");
    for (uint32_t i = off; i < off + size; i++)
        if (a->wcount[i])
            fail("pi_ram_read of L3 bytes with a pending write");
    memcpy(data, a->p + off, size);
}

/* ---- cluster DMA ---- */

void pi_cl_dma_cmd_2d(uintptr_t ext, uintptr_t loc, uint32_t size, uint32_t stride, uint32_t length,
                      pi_cl_dma_dir_e dir, pi_cl_dma_cmd_t *cmd)
{
    uint32_t eoff, loff;
    uint32_t extent = length && size >= length ? (size / length - 1) * stride + length : size;
    alloc_t *ea = find_ptr(SP_L2, ext, extent, &eoff, "cluster DMA, L2 side");
    alloc_t *la = find_ptr(SP_L1, loc, size, &loff, "cluster DMA, L1 side");
    cmd->id = issue(0, ea, eoff, la, loff, size, stride, length, dir == PI_CL_DMA_DIR_EXT2LOC);
}

void pi_cl_dma_cmd(uintptr_t ext, uintptr_t loc, uint32_t size, pi_cl_dma_dir_e dir, pi_cl_dma_cmd_t *cmd)
{
    pi_cl_dma_cmd_2d(ext, loc, size, size, size, dir, cmd);
}

void pi_cl_dma_cmd_wait(pi_cl_dma_cmd_t *cmd)
{
    /* In order: every cluster DMA command issued up to this one is complete. */
    for (;;) {
        op_t *first = 0;
        for (int k = 0; k < MAX_OPS; k++)
            if (ops[k].active && !ops[k].udma && ops[k].id <= cmd->id && (!first || ops[k].id < first->id))
                first = &ops[k];
        if (!first)
            return;
        complete(first);
    }
}

/* ---- micro-DMA (HyperRAM) from the cluster ---- */

void pi_cl_ram_copy_2d(struct pi_device *device, uint32_t pi_ram_addr, void *addr, uint32_t size, uint32_t stride,
                       uint32_t length, uint8_t ext2loc, pi_cl_ram_req_t *req)
{
    uint32_t eoff, loff;
    (void)device;
    uint32_t extent = length && size >= length ? (size / length - 1) * stride + length : size;
    alloc_t *ea = find_l3(pi_ram_addr, extent, &eoff, "micro-DMA, L3 side");
    alloc_t *la = find_ptr(SP_L2, (uintptr_t)addr, size, &loff, "micro-DMA, L2 side");
    req->id = issue(1, ea, eoff, la, loff, size, stride, length, ext2loc);
}

void pi_cl_ram_copy(struct pi_device *device, uint32_t pi_ram_addr, void *addr, uint32_t size, uint8_t ext2loc,
                    pi_cl_ram_req_t *req)
{
    pi_cl_ram_copy_2d(device, pi_ram_addr, addr, size, size, size, ext2loc, req);
}

void pi_cl_ram_copy_wait(pi_cl_ram_req_t *req)
{
    for (int k = 0; k < MAX_OPS; k++)
        if (ops[k].active && ops[k].udma && ops[k].id == req->id) {
            complete(&ops[k]);
            return;
        }
    fail("pi_cl_ram_copy_wait on micro-DMA #%u, which is not pending", req->id);
}

/* ---- tracing (host only) ---- */

FILE *mbdsl_trace_file;

void mbdsl_trace_begin(int index, const char *name)
{
    cur_layer = index;
    cur_name = name;
}

void mbdsl_trace_layer(int index, const char *name, int loc, uintptr_t addr, uint32_t bytes)
{
    uint32_t off;
    (void)index; (void)name;
    alloc_t *a = loc == 0 ? find_ptr(SP_L2, addr, bytes, &off, "trace") : find_l3((uint32_t)addr, bytes, &off, "trace");
    if (mbdsl_trace_file && fwrite(a->p + off, 1, bytes, mbdsl_trace_file) != bytes)
        fail("cannot write the trace");
}

/* The L1 bytes a kernel is about to read (write = 0) or write: none may have a pending
 * transfer writing them, and bytes it writes none reading them either. */
static void check_kernel_bytes(const void *p, uint32_t bytes, int write, const char *what)
{
    uint32_t off;
    if (!bytes)
        return;
    alloc_t *a = find_ptr(SP_L1, (uintptr_t)p, bytes, &off, what);
    for (uint32_t i = off; i < off + bytes; i++)
        if (a->wcount[i] || (write && a->rcount[i])) {
            op_t *o = pending_on(a, i, write);
            fail("the kernel's %s, L1 buffer #%d byte +%u, is %s %s #%u that was not waited for", what,
                 alloc_index(a), i, o->ext2loc ? "written by" : "read by", o->udma ? "micro-DMA" : "DMA", o->id);
        }
}

void mbdsl_trace_kernel(const void *in, uint32_t in_bytes, const void *w, uint32_t w_bytes, const void *out,
                        uint32_t out_bytes)
{
    check_kernel_bytes(in, in_bytes, 0, "input");
    check_kernel_bytes(w, w_bytes, 0, "weights");
    check_kernel_bytes(out, out_bytes, 1, "output");
}

void mbdsl_host_report(FILE *f)
{
    fprintf(f, "peak budgets: L1 %u, L2 %u, L3 %u B; cores %d\n", (unsigned)MBDSL_HOST_L1, (unsigned)MBDSL_HOST_L2,
            (unsigned)MBDSL_HOST_L3, MBDSL_HOST_CORES);
}
