// SPDX-License-Identifier: GPL-2.0
/*
 * zbzram: drive a zram device inside a UML guest with a dump's pages, in a workload's order.
 *
 * Built static on the host and run by the guest's /init once the device is configured
 * (comp_algorithm, recomp_algorithm, algorithm_params, backing_dev, mem_limit, disksize):
 *
 *     zbzram DEV PAGES OPS OUT
 *
 * DEV is the device's name (zram0), PAGES a file of 4096-byte pages (the corpus), OPS a
 * text file of one operation a line:
 *
 *   w OFFSET PAGE    write corpus page PAGE to slot OFFSET (O_DIRECT pwrite: one bio,
 *                    zram_write_page); a failed write (mem_limit: -ENOMEM, seen as EIO)
 *                    is counted, not fatal;
 *   c OFFSET PAGE    the same, then print "size PAGE BYTES HUGE" with the change of
 *                    mm_stat's compr_data_size and huge_pages: the kernel's size for the page;
 *   r OFFSET PAGE    read slot OFFSET (O_DIRECT pread, zram_read_page) and compare it with
 *                    corpus page PAGE (-1: a zero page);
 *   d OFFSET         discard slot OFFSET (BLKDISCARD, zram_bio_discard);
 *   s FILE VALUE     write VALUE to /sys/block/DEV/FILE (idle, recompress, writeback, ...)
 *                    and print "sysfs FILE RC";
 *   p LABEL          print the phase's figures: mm_stat, io_stat, bd_stat and the count of
 *                    each block_state flag (debugfs, CONFIG_ZRAM_MEMORY_TRACKING).
 *
 * OUT ends with "status ok" when every line ran and every read matched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096

static FILE *out;
static const char *dev;
static int fd;
static unsigned char *corpus, *buf;
static long n_pages;
static unsigned long writes, failed, reads, mismatches, discards;

static int read_file(const char *path, char *dst, size_t len)
{
	int f = open(path, O_RDONLY);
	ssize_t n;

	if (f < 0)
		return -1;
	n = read(f, dst, len - 1);
	close(f);
	if (n < 0)
		return -1;
	dst[n] = 0;
	return 0;
}

static void stat_line(const char *name)
{
	char path[256], text[512];

	snprintf(path, sizeof(path), "/sys/block/%s/%s", dev, name);
	if (read_file(path, text, sizeof(text)) == 0)
		fprintf(out, "%s %s", name, text);  /* the kernel's line ends with \n */
}

/* mm_stat's compr_data_size (field 2) and huge_pages (field 8) */
static void mm_fields(long long *compr, long long *huge)
{
	char path[256], text[512];
	long long f[9] = {0};

	snprintf(path, sizeof(path), "/sys/block/%s/mm_stat", dev);
	if (read_file(path, text, sizeof(text)) == 0)
		sscanf(text, "%lld %lld %lld %lld %lld %lld %lld %lld %lld", &f[0], &f[1], &f[2],
		       &f[3], &f[4], &f[5], &f[6], &f[7], &f[8]);
	*compr = f[1];
	*huge = f[7];
}

static void block_flags(void)
{
	char path[256], line[128];
	unsigned long count[6] = {0};
	const char *names = "swhirn";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/zram/%s/block_state", dev);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char flags[16] = "";

		if (sscanf(line, "%*s %*s %15s", flags) != 1)
			continue;
		for (int i = 0; i < 6 && flags[i]; i++)
			if (flags[i] == names[i])
				count[i]++;
	}
	fclose(f);
	fprintf(out, "flags %lu %lu %lu %lu %lu %lu\n", count[0], count[1], count[2], count[3],
		count[4], count[5]);
}

static const unsigned char *page_of(long page)
{
	static unsigned char zero[PAGE];

	return page < 0 ? zero : corpus + (size_t)page * PAGE;
}

static void do_write(long offset, long page)
{
	memcpy(buf, page_of(page), PAGE);
	writes++;
	if (pwrite(fd, buf, PAGE, (off_t)offset * PAGE) != PAGE)
		failed++;
}

static void do_read(long offset, long page)
{
	reads++;
	if (pread(fd, buf, PAGE, (off_t)offset * PAGE) != PAGE ||
	    memcmp(buf, page_of(page), PAGE) != 0) {
		if (mismatches++ < 5)
			fprintf(out, "mismatch %ld %ld\n", offset, page);
	}
}

static void do_discard(long offset)
{
	uint64_t range[2] = {(uint64_t)offset * PAGE, PAGE};

	discards++;
	if (ioctl(fd, BLKDISCARD, range) != 0)
		failed++;
}

static void do_sysfs(const char *name, const char *value)
{
	char path[256];
	int f, rc = 0;

	snprintf(path, sizeof(path), "/sys/block/%s/%s", dev, name);
	f = open(path, O_WRONLY);
	if (f < 0 || write(f, value, strlen(value)) < 0)
		rc = -errno;
	if (f >= 0)
		close(f);
	fprintf(out, "sysfs %s %d\n", name, rc);
}

static void phase(const char *label)
{
	fprintf(out, "phase %s\n", label);
	stat_line("mm_stat");
	stat_line("io_stat");
	stat_line("bd_stat");
	block_flags();
	fprintf(out, "ops %lu %lu %lu %lu %lu\n", writes, failed, reads, mismatches, discards);
	fflush(out);
}

int main(int argc, char **argv)
{
	char line[512], dev_path[64];
	struct stat st;
	FILE *ops;
	int pf;

	if (argc != 5)
		return 2;
	dev = argv[1];
	out = fopen(argv[4], "w");
	pf = open(argv[2], O_RDONLY);
	ops = fopen(argv[3], "r");
	snprintf(dev_path, sizeof(dev_path), "/dev/%s", dev);
	fd = open(dev_path, O_RDWR | O_DIRECT);
	if (!out || pf < 0 || !ops || fd < 0 || fstat(pf, &st) != 0) {
		if (out)
			fprintf(out, "status error opening files: %s\n", strerror(errno));
		return 1;
	}
	n_pages = st.st_size / PAGE;
	corpus = mmap(NULL, st.st_size ? st.st_size : PAGE, PROT_READ, MAP_PRIVATE, pf, 0);
	if (corpus == MAP_FAILED || posix_memalign((void **)&buf, PAGE, PAGE) != 0) {
		fprintf(out, "status error mapping pages\n");
		return 1;
	}
	while (fgets(line, sizeof(line), ops)) {
		long a = 0, b = 0;
		char name[128], value[256];
		long long c0, h0, c1, h1;

		line[strcspn(line, "\n")] = 0;
		switch (line[0]) {
		case 'w':
		case 'c':
			if (sscanf(line + 1, "%ld %ld", &a, &b) != 2 || b >= n_pages)
				goto bad;
			mm_fields(&c0, &h0);
			do_write(a, b);
			if (line[0] == 'c') {
				mm_fields(&c1, &h1);
				fprintf(out, "size %ld %lld %lld\n", b, c1 - c0, h1 - h0);
			}
			break;
		case 'r':
			if (sscanf(line + 1, "%ld %ld", &a, &b) != 2 || b >= n_pages)
				goto bad;
			do_read(a, b);
			break;
		case 'd':
			if (sscanf(line + 1, "%ld", &a) != 1)
				goto bad;
			do_discard(a);
			break;
		case 's':
			if (sscanf(line + 1, "%127s %255[^\n]", name, value) != 2)
				goto bad;
			do_sysfs(name, value);
			break;
		case 'p':
			phase(line + 2);
			break;
		default:
			goto bad;
		}
	}
	fprintf(out, "status %s\n", mismatches ? "mismatch" : "ok");
	fclose(out);
	return 0;
bad:
	fprintf(out, "status bad line: %s\n", line);
	fclose(out);
	return 1;
}
