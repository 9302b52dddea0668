/* A fresh process that makes one allocation; prints its VmRSS in KiB. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    char *p = malloc(100);
    p[0] = 1;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    printf("%ld\n", kib);
    return p[0] == 1 ? 0 : 1;
}
