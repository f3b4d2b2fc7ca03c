#pragma once
// Training tensors on transparent huge pages: 2 MiB memory pages instead of 4 KiB ones.
//
// A model's weights, gradients and optimizer state are a few large arrays that every update
// walks end to end. On 4 KiB pages a 1 MB gradient spans 256 pages: 256 TLB entries for the
// optimizer step, and 256 page-table lookups each time Open MPI's shared-memory transport copies
// it to the other rank (the kernel's process_vm_readv). On 2 MiB pages it is one or two. Measured
// on the MLP benchmark (docs/performance.md, tools/bench_huge_pages): an epoch ~5% faster, with
// one process and with two ranks; the numbers bit for bit the same.
//
// glibc's malloc asks the kernel for huge pages when GLIBC_TUNABLES holds glibc.malloc.hugetlb=1,
// and glibc reads GLIBC_TUNABLES only when a program starts. So `unroll run` sets it and starts
// itself again, before it does anything else (before MPI is initialized, so it works under mpirun
// and srun). Say glibc.malloc.hugetlb=0 in GLIBC_TUNABLES to keep 4 KiB pages; the kernel's own
// setting (/sys/kernel/mm/transparent_hugepage/enabled: always, madvise or never) still decides.
#include <string>

namespace unroll {

/// Unless GLIBC_TUNABLES already sets glibc.malloc.hugetlb (to any value), adds
/// glibc.malloc.hugetlb=1 to it and executes this program again with the same arguments. Returns
/// only when it did not: the tunable was set already, the program runs under valgrind (whose
/// children are not traced), or the exec failed (then the run continues on 4 KiB pages).
void restart_with_huge_pages(char** argv);

/// One line for log.txt: whether large allocations get huge pages, and what decided it (the
/// tunable, the kernel's mode).
std::string huge_pages_state();

/// This process's memory on transparent huge pages, in MiB (AnonHugePages of
/// /proc/self/smaps_rollup); 0 when the kernel does not say.
double huge_pages_mb();

}  // namespace unroll
