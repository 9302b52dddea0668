/* VmRSS of the calling process in KiB, read from /proc/self/status (-1 if
 * unreadable). */
#ifndef GOHEAP_TESTS_RSS_H
#define GOHEAP_TESTS_RSS_H
#include <stdio.h>

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}
#endif
