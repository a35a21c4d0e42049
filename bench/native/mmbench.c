/*
 * mmbench — native counterpart of mmsim's benchmark.
 *
 * Times the same memory-management operations that the bench runs in the
 * model, on the real kernel of this machine, and prints one JSON object per
 * line on stdout:
 *
 *   {"case":"c","ops":262144,"ns_per_op":812.3,"total_ns":...,"reps":5,...}
 *
 * Usage:
 *   mmbench all
 *   mmbench <case> [ops] [<case> [ops]]...
 *
 * where <case> is one of c, d, e, f, g1k, g100k, i and the optional [ops] is
 * a positive integer that replaces the case's default operation count (pages
 * for c and d, mmap/munmap pairs for e, mprotect calls for f and g, pages
 * remapped for i).
 *
 * Noise: every case is run REPS (5) times and the MEDIAN repetition is
 * reported ("ns_per_op", "total_ns"); the fastest and slowest repetitions
 * are reported too ("min_ns_per_op", "max_ns_per_op").  For case d every
 * reported figure (total, fork, child COW writes) is the median of its own
 * five samples.  Setup (populating memory, building VMAs) is never timed.
 *
 * Transparent huge pages are disabled on every region (MADV_NOHUGEPAGE), so
 * the figures are for 4 KiB pages whatever /sys/kernel/mm/transparent_hugepage
 * says.  Timing uses clock_gettime(CLOCK_MONOTONIC).
 *
 * Build: cc -O2 -Wall -Wextra -std=gnu11 mmbench.c -o mmbench
 * C11 + POSIX + Linux's /proc only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPS 5

static size_t page_size;

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "mmbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v[0..n) and returns its median (n is odd here). */
static uint64_t median(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    return v[n / 2];
}

/* Prints the common part of a result line, without the closing brace. */
static void emit_head(const char *name, uint64_t ops, uint64_t *total_ns)
{
    qsort(total_ns, REPS, sizeof *total_ns, cmp_u64);
    uint64_t med = total_ns[REPS / 2];
    printf("{\"case\":\"%s\",\"ops\":%llu,\"ns_per_op\":%.1f,\"total_ns\":%llu,"
           "\"reps\":%d,\"min_ns_per_op\":%.1f,\"max_ns_per_op\":%.1f",
           name, (unsigned long long)ops, (double)med / (double)ops,
           (unsigned long long)med, REPS,
           (double)total_ns[0] / (double)ops,
           (double)total_ns[REPS - 1] / (double)ops);
}

static void emit_tail(void)
{
    printf("}\n");
    fflush(stdout);
}

/* Anonymous private mapping with THP turned off. */
static char *map_anon(size_t len, int prot)
{
    void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
#ifdef MADV_NOHUGEPAGE
    (void)madvise(p, len, MADV_NOHUGEPAGE); /* best effort */
#endif
    return p;
}

static void touch_pages(char *base, size_t pages)
{
    volatile char *p = base;
    for (size_t i = 0; i < pages; i++)
        p[i * page_size] = 1;
}

/* Number of VMAs of this process (lines of /proc/self/maps), -1 if unknown. */
static long count_maps(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[65536];
    long lines = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    close(fd);
    return n < 0 ? -1 : lines;
}

/* 64-bit LCG (Knuth's MMIX constants), fixed seed: same pages every run. */
static uint64_t lcg_state;
static uint64_t lcg_next(void)
{
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return lcg_state >> 33;
}

/* ------------------------------------------------------------------ */
/* (c) demand-zero write faults                                        */
/* ------------------------------------------------------------------ */

static void case_c(uint64_t pages)
{
    uint64_t t[REPS];
    size_t len = (size_t)pages * page_size;
    for (int r = 0; r < REPS; r++) {
        char *base = map_anon(len, PROT_READ | PROT_WRITE);
        uint64_t t0 = now_ns();
        touch_pages(base, pages);
        t[r] = now_ns() - t0;
        if (munmap(base, len) != 0)
            die("munmap");
    }
    emit_head("c", pages, t);
    emit_tail();
}

/* ------------------------------------------------------------------ */
/* (d) fork, then the child COW-writes every page                      */
/* ------------------------------------------------------------------ */

static void case_d(uint64_t pages)
{
    uint64_t total[REPS], fork_t[REPS], cow_t[REPS];
    size_t len = (size_t)pages * page_size;
    char *base = map_anon(len, PROT_READ | PROT_WRITE);

    for (int r = 0; r < REPS; r++) {
        /* (Re)populate: first time demand-zero faults, later repetitions
         * take the parent's write-protected PTEs back (reuse faults), so
         * every fork starts from the same writable, populated state. */
        touch_pages(base, pages);

        int fds[2];
        if (pipe(fds) != 0)
            die("pipe");
        fflush(stdout);
        uint64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            uint64_t c0 = now_ns();
            touch_pages(base, pages);
            uint64_t dt = now_ns() - c0;
            ssize_t w = write(fds[1], &dt, sizeof dt);
            _exit(w == (ssize_t)sizeof dt ? 0 : 1);
        }
        uint64_t t1 = now_ns();
        int status;
        if (waitpid(pid, &status, 0) != pid)
            die("waitpid");
        uint64_t t2 = now_ns();
        close(fds[1]);
        uint64_t dt = 0;
        if (read(fds[0], &dt, sizeof dt) != (ssize_t)sizeof dt ||
            !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "mmbench: case d: child failed\n");
            exit(1);
        }
        close(fds[0]);
        total[r] = t2 - t0;
        fork_t[r] = t1 - t0; /* fork() as seen by the parent */
        cow_t[r] = dt;       /* the child's own loop of COW writes */
    }
    if (munmap(base, len) != 0)
        die("munmap");

    uint64_t fork_med = median(fork_t, REPS);
    uint64_t cow_med = median(cow_t, REPS);
    emit_head("d", pages, total);
    printf(",\"fork_ns\":%llu,\"cow_ns_per_page\":%.1f",
           (unsigned long long)fork_med, (double)cow_med / (double)pages);
    emit_tail();
}

/* ------------------------------------------------------------------ */
/* (e) mmap + munmap of one 4 KiB anonymous page                       */
/* ------------------------------------------------------------------ */

static void case_e(uint64_t pairs)
{
    uint64_t t[REPS];
    for (int r = 0; r < REPS; r++) {
        uint64_t t0 = now_ns();
        for (uint64_t i = 0; i < pairs; i++) {
            void *p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED)
                die("mmap");
            if (munmap(p, page_size) != 0)
                die("munmap");
        }
        t[r] = now_ns() - t0;
    }
    emit_head("e", pairs, t);
    emit_tail();
}

/* ------------------------------------------------------------------ */
/* (f) mprotect single pages of a 1024-page region: split, then merge  */
/* ------------------------------------------------------------------ */

#define F_PAGES 1024

static void case_f(uint64_t calls)
{
    uint64_t t[REPS];
    uint64_t pairs = (calls + 1) / 2;
    calls = pairs * 2;
    /* PROT_NONE guard page on each side keeps the region from merging
     * with whatever the kernel maps next to it. */
    size_t len = (F_PAGES + 2) * page_size;
    char *guard = map_anon(len, PROT_NONE);
    char *base = guard + page_size;
    if (mprotect(base, F_PAGES * page_size, PROT_READ | PROT_WRITE) != 0)
        die("mprotect");
    touch_pages(base, F_PAGES);

    for (int r = 0; r < REPS; r++) {
        uint64_t t0 = now_ns();
        for (uint64_t k = 0; k < pairs; k++) {
            char *p = base + (k % F_PAGES) * page_size;
            if (mprotect(p, page_size, PROT_READ) != 0)
                die("mprotect");
            if (mprotect(p, page_size, PROT_READ | PROT_WRITE) != 0)
                die("mprotect");
        }
        t[r] = now_ns() - t0;
    }
    if (munmap(guard, len) != 0)
        die("munmap");
    emit_head("f", calls, t);
    printf(",\"pages\":%d", F_PAGES);
    emit_tail();
}

/* ------------------------------------------------------------------ */
/* (g) mprotect in an address space with N VMAs                        */
/* ------------------------------------------------------------------ */

static const char max_map_path[] = "/proc/sys/vm/max_map_count";
static char saved_max_map[32]; /* old value, "" when unchanged */
static size_t saved_max_map_len;

static long read_max_map(void)
{
    FILE *f = fopen(max_map_path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static int write_max_map(const char *s, size_t len)
{
    int fd = open(max_map_path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, s, len);
    int rc = close(fd);
    return w == (ssize_t)len && rc == 0 ? 0 : -1;
}

/* Async-signal-safe: called from atexit and from signal handlers. */
static void restore_max_map(void)
{
    if (saved_max_map_len > 0) {
        (void)write_max_map(saved_max_map, saved_max_map_len);
        saved_max_map_len = 0;
    }
}

static void restore_and_die(int sig)
{
    restore_max_map();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Tries to make max_map_count at least `want`; returns the value in force. */
static long ensure_max_map(long want)
{
    long cur = read_max_map();
    if (cur < 0 || cur >= want)
        return cur;
    if (saved_max_map_len == 0) {
        int n = snprintf(saved_max_map, sizeof saved_max_map, "%ld\n", cur);
        char buf[32];
        int m = snprintf(buf, sizeof buf, "%ld\n", want);
        saved_max_map_len = (size_t)n;
        if (write_max_map(buf, (size_t)m) != 0) {
            saved_max_map_len = 0;
            return cur;
        }
        static int hooked;
        if (!hooked) {
            hooked = 1;
            atexit(restore_max_map);
            signal(SIGINT, restore_and_die);
            signal(SIGTERM, restore_and_die);
            signal(SIGHUP, restore_and_die);
        }
    }
    long now = read_max_map();
    return now < 0 ? cur : now;
}

/*
 * Builds a region of N pages (plus a PROT_NONE guard page on each side),
 * populated, where pages alternate RW, R, RW, R, ... so that no two
 * neighbours can merge: N VMAs.  Each timed operation picks an interior page
 * with the fixed-seed LCG and gives it its neighbours' protection (one
 * mprotect: the three VMAs merge into one), then its own protection back
 * (one mprotect: split into three).  ns_per_op is per mprotect call.
 */
static void case_g(const char *name, long want_vmas, uint64_t calls)
{
    uint64_t t[REPS];
    uint64_t pairs = (calls + 1) / 2;
    calls = pairs * 2;

    /* Room for the process's own mappings plus the transient splits. */
    long own_maps = count_maps();
    const long margin = own_maps >= 0 ? own_maps + 64 : 1000;
    long limit = ensure_max_map(want_vmas + margin);
    long n = want_vmas;
    if (limit >= 0 && n + margin > limit) {
        n = (limit - margin) / 1000 * 1000; /* largest round N that fits */
        if (n < 1000)
            n = limit - margin;
        if (n < 8) {
            fprintf(stderr, "mmbench: %s: max_map_count %ld too low\n",
                    name, limit);
            exit(1);
        }
        fprintf(stderr, "mmbench: %s: vm.max_map_count is %ld and could not "
                "be raised; using %ld VMAs instead of %ld\n",
                name, limit, n, want_vmas);
    }

    size_t len = ((size_t)n + 2) * page_size;
    char *guard = map_anon(len, PROT_READ | PROT_WRITE);
    char *base = guard + page_size; /* page j of the region: base + j*ps */
    touch_pages(base, (size_t)n);   /* before splitting: one anon_vma */
    if (mprotect(guard, page_size, PROT_NONE) != 0 ||
        mprotect(base + (size_t)n * page_size, page_size, PROT_NONE) != 0)
        die("mprotect (guard)");
    for (long j = 1; j < n; j += 2)
        if (mprotect(base + (size_t)j * page_size, page_size, PROT_READ) != 0)
            die("mprotect (build)");
    long maps_after = count_maps();

    /* Sanity check: one merge should remove exactly two VMAs. */
    int merge_ok = -1;
    {
        char *p = base + 2 * page_size; /* RW page between two R pages */
        if (mprotect(p, page_size, PROT_READ) != 0)
            die("mprotect");
        long merged = count_maps();
        if (mprotect(p, page_size, PROT_READ | PROT_WRITE) != 0)
            die("mprotect");
        if (merged >= 0 && maps_after >= 0)
            merge_ok = merged == maps_after - 2;
        if (merge_ok == 0)
            fprintf(stderr, "mmbench: %s: warning: VMAs did not merge "
                    "(%ld -> %ld)\n", name, maps_after, merged);
    }

    const int rw = PROT_READ | PROT_WRITE, ro = PROT_READ;
    for (int r = 0; r < REPS; r++) {
        lcg_state = 0x5eed0000u + (uint64_t)r;
        uint64_t t0 = now_ns();
        for (uint64_t k = 0; k < pairs; k++) {
            /* interior page: 1 .. n-2, both neighbours inside the region */
            long j = 1 + (long)(lcg_next() % (uint64_t)(n - 2));
            char *p = base + (size_t)j * page_size;
            int own = (j & 1) ? ro : rw;
            if (mprotect(p, page_size, own == rw ? ro : rw) != 0)
                die("mprotect (merge)");
            if (mprotect(p, page_size, own) != 0)
                die("mprotect (split)");
        }
        t[r] = now_ns() - t0;
    }
    if (munmap(guard, len) != 0)
        die("munmap");
    restore_max_map();

    emit_head(name, calls, t);
    printf(",\"vmas\":%ld", n);
    if (maps_after >= 0)
        printf(",\"maps_total\":%ld", maps_after);
    if (merge_ok >= 0)
        printf(",\"merge_ok\":%d", merge_ok);
    printf(",\"max_map_count\":%ld", limit);
    emit_tail();
}

/* ------------------------------------------------------------------ */
/* (i) remap_file_pages + mprotect per page: mainline's emulation      */
/* ------------------------------------------------------------------ */

/*
 * mulberry32, as bench/common.ts prng(): case i draws the same plan as mmsim's
 * (bench/remap.ts remapPlan()) from the same seed.
 */
#define REMAP_SEED 0x5eed0005u
static uint32_t mb32_state;
static uint32_t mb32_next(void)
{
    mb32_state += 0x6d2b79f5u;
    uint32_t x = mb32_state;
    x = (x ^ (x >> 15)) * (x | 1u);
    x ^= x + (x ^ (x >> 7)) * (x | 61u);
    return x ^ (x >> 14);
}

/* A shared file of `len` bytes: a memfd, else an unlinked file in /tmp. */
static int remap_file(size_t len)
{
    int fd = -1;
#ifdef MFD_CLOEXEC
    fd = memfd_create("mmbench-remap", MFD_CLOEXEC);
#endif
    if (fd < 0) {
        char path[] = "/tmp/mmbench-remap-XXXXXX";
        fd = mkstemp(path);
        if (fd < 0)
            die("memfd_create / mkstemp");
        unlink(path);
    }
    if (ftruncate(fd, (off_t)len) != 0)
        die("ftruncate");
    return fd;
}

/*
 * Window page i of an N-page PROT_NONE MAP_SHARED window goes to file page
 * perm[i] with protection prot[i] (---, r--, rw-; never the same as page
 * i-1's, so no two neighbouring VMAs merge), as a program must do it on a
 * kernel without VM_MANYPROTS: remap_file_pages(page, ps, 0, perm[i], 0) —
 * since Linux 4.0 an mmap(MAP_FIXED) of the file at the new offset, taking
 * the VMA's protection — then mprotect(page, ps, prot).  Every page ends up
 * a VMA of its own, so vm.max_map_count is raised for the run when it can
 * be; otherwise N is cut to what fits and stderr says so.  File page k
 * holds k + 1 in its first word (stamped, so in the page cache, before
 * timing).  Per repetition, timed separately: the remap loop (ns_per_op is
 * per page, both calls), then a 4-byte load from every readable page (each
 * a minor fault: mprotect populates nothing), summed and checked.
 */
static void case_i(uint64_t want_pages)
{
    uint64_t t[REPS], touch_t[REPS], both_t[REPS];
    long own_maps = count_maps();
    const long margin = own_maps >= 0 ? own_maps + 64 : 1000;
    long limit = ensure_max_map((long)want_pages + margin);
    long n = (long)want_pages;
    if (limit >= 0 && n + margin > limit) {
        n = (limit - margin) / 1000 * 1000;
        if (n < 1000)
            n = limit - margin;
        if (n < 8) {
            fprintf(stderr, "mmbench: i: max_map_count %ld too low\n", limit);
            exit(1);
        }
        fprintf(stderr, "mmbench: i: vm.max_map_count is %ld and could not "
                "be raised; remapping %ld pages instead of %llu\n",
                limit, n, (unsigned long long)want_pages);
    }
    size_t len = (size_t)n * page_size;

    /* The plan: a Fisher-Yates permutation, then the protections. */
    uint32_t *perm = malloc((size_t)n * sizeof *perm);
    unsigned char *prot = malloc((size_t)n);
    if (!perm || !prot)
        die("malloc");
    mb32_state = REMAP_SEED;
    for (long i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(mb32_next() % (uint32_t)(i + 1));
        uint32_t x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    prot[0] = (unsigned char)(mb32_next() % 3);
    for (long i = 1; i < n; i++)
        prot[i] = (unsigned char)((prot[i - 1] + 1 + (mb32_next() & 1)) % 3);
    static const int prots[3] = {PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE};
    uint64_t expect_sum = 0, touched = 0;
    for (long i = 0; i < n; i++)
        if (prot[i] != 0) {
            expect_sum += perm[i] + 1u;
            touched++;
        }

    int fd = remap_file(len);
    {
        char *lin = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (lin == MAP_FAILED)
            die("mmap (stamp)");
        for (long k = 0; k < n; k++)
            *(volatile uint32_t *)(lin + (size_t)k * page_size) = (uint32_t)k + 1;
        if (munmap(lin, len) != 0)
            die("munmap (stamp)");
    }

    long vmas = -1, maps_total = -1;
    for (int r = 0; r < REPS; r++) {
        long before = count_maps();
        char *w = mmap(NULL, len, PROT_NONE, MAP_SHARED, fd, 0);
        if (w == MAP_FAILED)
            die("mmap (window)");
#ifdef MADV_NOHUGEPAGE
        (void)madvise(w, len, MADV_NOHUGEPAGE); /* best effort */
#endif
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++) {
            char *p = w + (size_t)i * page_size;
            if (remap_file_pages(p, page_size, 0, perm[i], 0) != 0)
                die("remap_file_pages");
            if (mprotect(p, page_size, prots[prot[i]]) != 0)
                die("mprotect");
        }
        uint64_t t1 = now_ns();
        long after = count_maps();
        if (before >= 0 && after >= 0) {
            vmas = after - before; /* the window's VMAs */
            maps_total = after;
        }
        uint64_t sum = 0;
        uint64_t t2 = now_ns();
        for (long i = 0; i < n; i++)
            if (prot[i] != 0)
                sum += *(volatile uint32_t *)(w + (size_t)i * page_size);
        uint64_t t3 = now_ns();
        if (sum != expect_sum) {
            fprintf(stderr, "mmbench: i: the window read the wrong file "
                    "pages (sum %llu, expected %llu)\n",
                    (unsigned long long)sum, (unsigned long long)expect_sum);
            exit(1);
        }
        if (munmap(w, len) != 0)
            die("munmap (window)");
        t[r] = t1 - t0;
        touch_t[r] = t3 - t2;
        both_t[r] = t[r] + touch_t[r];
    }
    close(fd);
    free(perm);
    free(prot);
    restore_max_map();

    uint64_t touch_med = median(touch_t, REPS);
    uint64_t both_med = median(both_t, REPS);
    emit_head("i", (uint64_t)n, t);
    printf(",\"pages\":%ld,\"pages_requested\":%llu,\"vmas\":%ld",
           n, (unsigned long long)want_pages, vmas);
    if (maps_total >= 0)
        printf(",\"maps_total\":%ld", maps_total);
    printf(",\"touched\":%llu,\"touch_total_ns\":%llu,"
           "\"touch_ns_per_page\":%.1f,\"remap_touch_total_ns\":%llu,"
           "\"max_map_count\":%ld",
           (unsigned long long)touched, (unsigned long long)touch_med,
           touched ? (double)touch_med / (double)touched : 0.0,
           (unsigned long long)both_med, limit);
    emit_tail();
}

/* ------------------------------------------------------------------ */
/* driver                                                              */
/* ------------------------------------------------------------------ */

struct bench_case {
    const char *name;
    uint64_t default_ops;
};

static const struct bench_case cases[] = {
    {"c", 262144},       /* pages (1 GiB) */
    {"d", 262144},       /* pages (1 GiB) */
    {"e", 100000},       /* mmap+munmap pairs */
    {"f", 8 * 2 * F_PAGES}, /* mprotect calls: 8 passes over 1024 pages */
    {"g1k", 100000},     /* mprotect calls */
    {"g100k", 100000},   /* mprotect calls */
    {"i", 100000},       /* pages remapped (remap_file_pages + mprotect) */
};
#define NCASES (sizeof cases / sizeof cases[0])

static void run_case(size_t idx, uint64_t ops)
{
    switch (idx) {
    case 0: case_c(ops); break;
    case 1: case_d(ops); break;
    case 2: case_e(ops); break;
    case 3: case_f(ops); break;
    case 4: case_g("g1k", 1000, ops); break;
    case 5: case_g("g100k", 100000, ops); break;
    case 6: case_i(ops); break;
    default: break;
    }
}

static int find_case(const char *name)
{
    for (size_t i = 0; i < NCASES; i++)
        if (strcmp(cases[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int parse_ops(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0)
        return -1;
    *out = v;
    return 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: mmbench all\n"
                    "       mmbench <case> [ops] [<case> [ops]]...\n"
                    "cases:");
    for (size_t i = 0; i < NCASES; i++)
        fprintf(stderr, " %s", cases[i].name);
    fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
    long ps = sysconf(_SC_PAGESIZE);
    page_size = ps > 0 ? (size_t)ps : 4096;

    if (argc < 2) {
        usage();
        return 2;
    }
    /* Validate the whole command line before running anything. */
    int sel[64];
    uint64_t ops[64];
    int nsel = 0;
    int ops_given = 1; /* the last selected case already has its op count */
    for (int a = 1; a < argc; a++) {
        uint64_t v;
        int pr = parse_ops(argv[a], &v);
        if (pr != 0) {
            if (pr < 0 || ops_given) {
                fprintf(stderr, "mmbench: bad op count '%s'\n", argv[a]);
                usage();
                return 2;
            }
            ops[nsel - 1] = v;
            ops_given = 1;
            continue;
        }
        if (strcmp(argv[a], "all") == 0) {
            for (size_t i = 0; i < NCASES && nsel < 64; i++) {
                sel[nsel] = (int)i;
                ops[nsel++] = cases[i].default_ops;
            }
            if (a + 1 < argc && parse_ops(argv[a + 1], &v) != 0) {
                fprintf(stderr, "mmbench: 'all' takes no op count\n");
                return 2;
            }
            continue;
        }
        int idx = find_case(argv[a]);
        if (idx < 0 || nsel >= 64) {
            fprintf(stderr, "mmbench: unknown case '%s'\n", argv[a]);
            usage();
            return 2;
        }
        sel[nsel] = idx;
        ops[nsel++] = cases[idx].default_ops;
        ops_given = 0;
    }
    for (int i = 0; i < nsel; i++)
        run_case((size_t)sel[i], ops[i]);
    return 0;
}
