/* A fresh process that makes one allocation; prints its VmRSS in KiB. */
#include <stdlib.h>
#include "rss.h"

int main(void) {
    char *p = malloc(100);
    p[0] = 1;
    printf("%ld\n", rss_kib());
    return p[0] == 1 ? 0 : 1;
}
