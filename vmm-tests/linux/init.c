// The Linux side of `just bench`: the /init of a tiny initramfs, booted on
// Debian's arm64 kernel under the same QEMU machine and `-icount
// shift=0,sleep=off` as our benchmarks (one guest ns per instruction). It
// times the closest Linux operation to each of our rows the way
// unikernel/tasks/src/bench.rs does (a batch of operations, seven times; the
// per-operation minimum and median), prints one line per operation in the
// same format, `bench <name> ops=<n> reps=<r> min_ns=<x> median_ns=<y>`
// (vmm-tests/src/linux.rs parses them), and powers off.
//
// Built static by vmm-tests with Debian's aarch64-linux-gnu-gcc, entered at
// `init_entry` (below) so the boot time is read at the first instruction.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/klog.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPS 7
#define PAGE 4096UL
#define FAULT_PAGES 64UL

// The virtual counter at the first instruction of /init (QEMU starts it at 0
// at reset, and without EL2 its offset is 0): boot time.
uint64_t boot_cntvct;

__asm__(".globl init_entry\n"
        ".type init_entry, %function\n"
        "init_entry:\n"
        "  isb\n"
        "  mrs x9, cntvct_el0\n"
        "  adrp x10, boot_cntvct\n"
        "  str x9, [x10, :lo12:boot_cntvct]\n"
        "  b _start\n");

static int failures;

static void fail(const char *what) {
  printf("linux-bench: failed: %s: %s\n", what, strerror(errno));
  failures++;
}

static int64_t now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

// Runs `batch` REPS times (it returns the ns its `ops` operations took, or
// -1 on failure) and prints the per-operation minimum and median.
static void bench(const char *name, uint64_t ops, int64_t (*batch)(void)) {
  uint64_t per_op[REPS];
  for (int i = 0; i < REPS; i++) {
    int64_t ns = batch();
    if (ns < 0) {
      printf("linux-bench: %s did not complete\n", name);
      return;
    }
    per_op[i] = (uint64_t)ns / ops;
  }
  qsort(per_op, REPS, sizeof per_op[0], cmp_u64);
  printf("bench %s ops=%lu reps=%d min_ns=%lu median_ns=%lu\n", name,
         (unsigned long)ops, REPS, (unsigned long)per_op[0],
         (unsigned long)per_op[REPS / 2]);
}

// --- null syscall ---------------------------------------------------------

#define SYSCALL_OPS 2000
static int64_t getppid_batch(void) {
  int64_t start = now();
  for (int i = 0; i < SYSCALL_OPS; i++)
    (void)syscall(SYS_getppid);
  return now() - start;
}

// --- 4 KiB user memcpy ----------------------------------------------------

#define COPY_OPS 500
static _Alignas(64) unsigned char copy_src[PAGE];
static _Alignas(64) unsigned char copy_dst[PAGE];
static int64_t memcpy_batch(void) {
  int64_t start = now();
  for (int i = 0; i < COPY_OPS; i++) {
    memcpy(copy_dst, copy_src, PAGE);
    // Keeps the copy: the compiler must assume the buffers are read.
    __asm__ volatile("" : : "r"(copy_dst), "r"(copy_src) : "memory");
  }
  return now() - start;
}

// --- faults ---------------------------------------------------------------

static void touch_pages(unsigned char *p) {
  for (unsigned long i = 0; i < FAULT_PAGES; i++)
    *(volatile unsigned char *)(p + i * PAGE) = 1;
}

// One write to each of FAULT_PAGES fresh anonymous pages, each a zero-fill
// fault; `advice` is MADV_NOHUGEPAGE (THP off) or -1 (the kernel's default).
static int64_t zero_fill(int advice) {
  size_t len = FAULT_PAGES * PAGE;
  unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    fail("mmap");
    return -1;
  }
  if (advice >= 0 && madvise(p, len, advice) != 0) {
    fail("madvise");
    return -1;
  }
  int64_t start = now();
  touch_pages(p);
  int64_t ns = now() - start;
  munmap(p, len);
  return ns;
}
static int64_t zero_fill_thp_off(void) { return zero_fill(MADV_NOHUGEPAGE); }
static int64_t zero_fill_thp_default(void) { return zero_fill(-1); }

// The parent writes every page, forks; the child's first write to each page
// is a copy-on-write fault. The child reports its time through a shared page.
static int64_t cow_fault(void) {
  size_t len = FAULT_PAGES * PAGE;
  volatile int64_t *result = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (result == MAP_FAILED || p == MAP_FAILED) {
    fail("mmap");
    return -1;
  }
  if (madvise(p, len, MADV_NOHUGEPAGE) != 0) {
    fail("madvise");
    return -1;
  }
  touch_pages(p);
  *result = -1;
  pid_t child = fork();
  if (child < 0) {
    fail("fork");
    return -1;
  }
  if (child == 0) {
    int64_t start = now();
    touch_pages(p);
    *result = now() - start;
    _exit(0);
  }
  int status;
  if (waitpid(child, &status, 0) != child) {
    fail("waitpid");
    return -1;
  }
  int64_t ns = *result;
  munmap(p, len);
  munmap((void *)result, PAGE);
  return ns;
}

// --- mmap + munmap --------------------------------------------------------

#define MAP_OPS 200
static size_t map_len;
static int64_t map_unmap_batch(void) {
  int64_t start = now();
  for (int i = 0; i < MAP_OPS; i++) {
    void *p = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      fail("mmap");
      return -1;
    }
    if (munmap(p, map_len) != 0) {
      fail("munmap");
      return -1;
    }
  }
  return now() - start;
}

// --- futex wake-up --------------------------------------------------------

// Whose turn it is: 0 the main thread's, 1 the other thread's. Each
// hand-over is one FUTEX_WAKE waking the other thread from FUTEX_WAIT, a
// context switch each way (one CPU), as our signal_wakeup row.
#define ROUND_TRIPS 200
static _Atomic int turn;
static long futex(_Atomic int *word, int op, int val) {
  return syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}
static void *ponger(void *arg) {
  long rounds = (long)arg;
  for (long i = 0; i < rounds; i++) {
    while (atomic_load(&turn) != 1)
      futex(&turn, FUTEX_WAIT, 0);
    atomic_store(&turn, 0);
    futex(&turn, FUTEX_WAKE, 1);
  }
  return NULL;
}
static int64_t futex_batch(void) {
  int64_t start = now();
  for (int i = 0; i < ROUND_TRIPS; i++) {
    atomic_store(&turn, 1);
    futex(&turn, FUTEX_WAKE, 1);
    while (atomic_load(&turn) != 0)
      futex(&turn, FUTEX_WAIT, 1);
  }
  return now() - start;
}
static void futex_wakeup(void) {
  pthread_t thread;
  atomic_store(&turn, 0);
  int e = pthread_create(&thread, NULL, ponger, (void *)(long)(REPS * ROUND_TRIPS));
  if (e != 0) {
    errno = e;
    fail("pthread_create");
    return;
  }
  bench("futex_wakeup", 2 * ROUND_TRIPS, futex_batch);
  pthread_join(thread, NULL);
}

// --- 1 ms sleep lateness --------------------------------------------------

static int64_t sleep_lateness(void) {
  int64_t deadline = now() + 1000000;
  struct timespec t = {deadline / 1000000000, deadline % 1000000000};
  int e;
  while ((e = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL)) == EINTR)
    ;
  if (e != 0) {
    errno = e;
    fail("clock_nanosleep");
    return -1;
  }
  return now() - deadline;
}

// --- setup ----------------------------------------------------------------

static void print_file(const char *key, const char *path) {
  char buf[256] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("linux-info %s=unknown\n", key);
    return;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n > 0 && buf[n - 1] == '\n')
    buf[n - 1] = 0;
  printf("linux-info %s=%s\n", key, buf);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
    fail(path);
  if (fd >= 0)
    close(fd);
}

// The kernel log's line about page table isolation (KPTI), if any: with
// KASLR on, a Cortex-A72 gets it forced on, and every syscall pays for it.
static void print_kpti(void) {
  static char log[1 << 17];
  int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof log - 1);
  if (n < 0) {
    fail("klogctl");
    return;
  }
  log[n] = 0;
  char *hit = strstr(log, "page table isolation");
  if (!hit) {
    printf("linux-info kpti=no mention in the kernel log\n");
    return;
  }
  char *start = hit, *end = hit;
  while (start > log && start[-1] != '\n' && start[-1] != ']')
    start--;
  while (*start == ' ')
    start++;
  while (*end && *end != '\n')
    end++;
  printf("linux-info kpti=%.*s\n", (int)(end - start), start);
}

int main(void) {
  uint64_t boot = boot_cntvct, hz;
  __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(hz));
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("bench boot_to_init ops=1 reps=1 min_ns=%lu median_ns=%lu\n",
         (unsigned long)(boot / hz * 1000000000 + boot % hz * 1000000000 / hz),
         (unsigned long)(boot / hz * 1000000000 + boot % hz * 1000000000 / hz));

  if (mount("proc", "/proc", "proc", 0, NULL) != 0)
    fail("mount /proc");
  if (mount("sysfs", "/sys", "sysfs", 0, NULL) != 0)
    fail("mount /sys");
  struct utsname u;
  if (uname(&u) == 0)
    printf("linux-info release=%s\n", u.release);
  print_file("thp", "/sys/kernel/mm/transparent_hugepage/enabled");
  print_file("cmdline", "/proc/cmdline");
  print_kpti();
  // A 1 GiB anonymous mapping is more than the 256 MiB guest has: without
  // overcommit the heuristic refuses it.
  write_file("/proc/sys/vm/overcommit_memory", "1");
  // Timer slack (50 us by default) would be counted as lateness.
  if (prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) != 0)
    fail("PR_SET_TIMERSLACK");

  bench("getppid", SYSCALL_OPS, getppid_batch);
  memset(copy_src, 7, PAGE);
  bench("memcpy_4k", COPY_OPS, memcpy_batch);
  bench("zero_fill_fault_thp_off", FAULT_PAGES, zero_fill_thp_off);
  bench("zero_fill_fault_thp_default", FAULT_PAGES, zero_fill_thp_default);
  bench("cow_fault_after_fork", FAULT_PAGES, cow_fault);
  map_len = PAGE;
  bench("mmap_munmap_4k", MAP_OPS, map_unmap_batch);
  map_len = 1UL << 30;
  bench("mmap_munmap_1g", MAP_OPS, map_unmap_batch);
  futex_wakeup();
  bench("nanosleep_1ms_lateness", 1, sleep_lateness);

  printf("linux-bench: done, %d failures\n", failures);
  fflush(stdout);
  sync();
  reboot(RB_POWER_OFF);
  fail("reboot");
  for (;;)
    pause();
}
