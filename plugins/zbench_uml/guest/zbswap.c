// SPDX-License-Identifier: GPL-2.0
/*
 * zbswap: swap a dump's pages out and in, in a workload's order, inside a UML guest.
 *
 * Built static on the host by `zbench kernel build` and run by the guest's /init
 * with swap on a ubd device and zswap configured:
 *
 *     zbswap PAGES OPS OUT
 *
 * PAGES is a file of 4096-byte pages (the corpus), mapped read-only (file pages are
 * dropped under reclaim, never swapped).  OPS is a stream of records
 * { u8 op; u8 pad[3]; u32 offset; u32 page; u32 len; } + len bytes of label:
 *
 *   STORE (1):      copy corpus page `page` into slot `offset` of an anonymous
 *                   mapping and madvise(MADV_PAGEOUT) it: reclaim writes it to swap,
 *                   through zswap_store (mm/page_io.c swap_writepage);
 *   LOAD (3):       read slot `offset` (a swap-in, through zswap_load) and compare
 *                   it with the page last stored there;
 *   INVALIDATE (4): madvise(MADV_DONTNEED) on the slot (the swap entry is freed:
 *                   zswap_invalidate);
 *   PHASE (6):      write every counter of /sys/kernel/debug/zswap to OUT;
 *   END (8).
 *
 * After each operation the helper yields the CPU a few times and sleeps 50 us, so
 * that work the kernel queued (zswap's shrink_worker when the pool limit is hit,
 * z3fold's page compaction) runs before the next one; after a store zswap did not
 * keep it waits until the shrink worker's writeback has stopped.  Whether a stored page really left memory is read from
 * /proc/self/pagemap (bit 62, swapped; bit 63, present).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096
#define ZSWAP_DEBUG "/sys/kernel/debug/zswap"

struct rec {
	uint8_t op;
	uint8_t pad[3];
	uint32_t offset;
	uint32_t page;
	uint32_t len;
} __attribute__((packed));

static FILE *out;
static unsigned long stores, loads, invalidates, mismatches, not_swapped, resident_loads;

static void settle(void)
{
	for (int i = 0; i < 8; i++)
		sched_yield();
	usleep(50);	/* as the driver does: every runnable kernel worker runs now */
}

static long long counter(const char *name)
{
	char path[256], buf[64];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), ZSWAP_DEBUG "/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = atoll(buf);
		fclose(f);
	}
	return v;
}

/*
 * A store zswap rejected may have queued the shrink worker, whose writeback loop
 * (with its swap I/O) can outlast a short yield: wait until written_back_pages has
 * stayed the same for five reads 200 us apart (2 s at most), so the next store sees
 * the pool the worker left, as the model's synchronous worker does.
 */
static void wait_for_writeback(void)
{
	long long last = counter("written_back_pages"), now;
	int same = 0;

	for (int i = 0; i < 10000 && same < 5; i++) {
		usleep(200);
		now = counter("written_back_pages");
		same = now == last ? same + 1 : 0;
		last = now;
	}
}

static uint64_t pagemap(int fd, void *addr)
{
	uint64_t e = 0;
	off_t at = (off_t)((uintptr_t)addr / PAGE) * 8;

	if (pread(fd, &e, 8, at) != 8)
		return 0;
	return e;
}

static void counters(const char *label)
{
	DIR *d = opendir(ZSWAP_DEBUG);
	struct dirent *e;
	char path[512], buf[64];

	fprintf(out, "phase %s", label);
	while (d && (e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), ZSWAP_DEBUG "/%s", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f))
			fprintf(out, " %s=%lld", e->d_name, atoll(buf));
		fclose(f);
	}
	if (d)
		closedir(d);
	fprintf(out, " stores=%lu loads=%lu invalidates=%lu mismatches=%lu not_swapped=%lu "
		"resident_loads=%lu\n", stores, loads, invalidates, mismatches, not_swapped,
		resident_loads);
	fflush(out);
}

int main(int argc, char **argv)
{
	struct rec r;
	struct stat st;
	unsigned char *corpus, *slots;
	uint32_t *last;		/* the corpus page last stored at each offset, +1 */
	uint32_t nslots = 0, npages;
	int pfd, ofd, pm;
	char label[256];

	if (argc != 4) {
		fprintf(stderr, "usage: zbswap PAGES OPS OUT\n");
		return 2;
	}
	pfd = open(argv[1], O_RDONLY);
	ofd = open(argv[2], O_RDONLY);
	out = fopen(argv[3], "w");
	pm = open("/proc/self/pagemap", O_RDONLY);
	if (pfd < 0 || ofd < 0 || !out || pm < 0 || fstat(pfd, &st)) {
		fprintf(stderr, "zbswap: cannot open its files: %s\n", strerror(errno));
		return 2;
	}
	npages = st.st_size / PAGE;
	corpus = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, pfd, 0);
	if (read(ofd, &nslots, 4) != 4 || corpus == MAP_FAILED || nslots == 0) {
		fprintf(out, "status error bad-input\n");
		return 2;
	}
	slots = mmap(NULL, (size_t)nslots * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	last = calloc(nslots, sizeof(*last));
	if (slots == MAP_FAILED || !last) {
		fprintf(out, "status error no-memory\n");
		return 2;
	}
	fprintf(out, "zbswap 1 pages=%u slots=%u\n", npages, nslots);
	while (read(ofd, &r, sizeof(r)) == sizeof(r)) {
		unsigned char *slot = slots + (size_t)r.offset * PAGE;

		if (r.op == 8)
			break;
		if (r.len >= sizeof(label) || (r.len && read(ofd, label, r.len) != (ssize_t)r.len)) {
			fprintf(out, "status error bad-record\n");
			return 2;
		}
		label[r.len] = 0;
		if (r.op != 6 && (r.offset >= nslots || (r.op == 1 && r.page >= npages))) {
			fprintf(out, "status error out-of-range\n");
			return 2;
		}
		switch (r.op) {
		case 1: {
			long long before = counter("stored_pages");

			memcpy(slot, corpus + (size_t)r.page * PAGE, PAGE);
			last[r.offset] = r.page + 1;
			if (madvise(slot, PAGE, MADV_PAGEOUT))
				not_swapped++;
			else if (!(pagemap(pm, slot) >> 62 & 1))
				not_swapped++;
			if (counter("stored_pages") <= before)
				wait_for_writeback();	/* rejected, or written back meanwhile */
			stores++;
			break;
		}
		case 3:
			if (!last[r.offset])
				break;
			if (pagemap(pm, slot) >> 63 & 1)
				resident_loads++;
			if (memcmp(slot, corpus + (size_t)(last[r.offset] - 1) * PAGE, PAGE))
				mismatches++;
			loads++;
			break;
		case 4:
			madvise(slot, PAGE, MADV_DONTNEED);
			last[r.offset] = 0;
			invalidates++;
			break;
		case 6:
			settle();
			counters(label);
			break;
		default:
			fprintf(out, "status error unknown-op\n");
			return 2;
		}
		settle();
	}
	fprintf(out, "status ok\n");
	fclose(out);
	return 0;
}
