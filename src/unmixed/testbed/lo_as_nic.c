/*
 * Preloaded into the testbed's Janus only. Janus never gathers ICE candidates
 * on an interface flagged IFF_LOOPBACK, so on a machine where the meeting must
 * stay on 127.0.0.1 it would offer no candidate at all. Wrapping getifaddrs()
 * and clearing that flag on "lo" makes 127.0.0.1 an ordinary host candidate.
 * Build: cc -shared -fPIC -o lo_as_nic.so lo_as_nic.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>

typedef int (*getifaddrs_fn)(struct ifaddrs **);

int getifaddrs(struct ifaddrs **list) {
    static getifaddrs_fn next_getifaddrs;
    if (next_getifaddrs == NULL)
        next_getifaddrs = (getifaddrs_fn)dlsym(RTLD_NEXT, "getifaddrs");
    int result = next_getifaddrs(list);
    if (result != 0)
        return result;
    for (struct ifaddrs *entry = *list; entry != NULL; entry = entry->ifa_next) {
        if (entry->ifa_name != NULL && strcmp(entry->ifa_name, "lo") == 0)
            entry->ifa_flags &= ~IFF_LOOPBACK;
    }
    return 0;
}
