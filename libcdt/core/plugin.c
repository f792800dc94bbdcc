/* plugin.c: cdt_plugin_open (plugin.h). */
#include "core/plugin.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ../lib/soname beside the running program, or "" */
static void beside_program(const char *soname, char *path, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    path[0] = 0;
    if (n <= 0) return;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = 0;
    int k = snprintf(path, len, "%s/../lib/%s", exe, soname);
    if (k < 0 || (size_t)k >= len) path[0] = 0;
}

void *cdt_plugin_open(const char *env, const char *soname, int flags, const char *missing,
                      char *where, size_t wlen, char *why, size_t whylen)
{
    const char *user = getenv(env);
    if (user && *user) { // the user's choice is the only one tried
        void *h = dlopen(user, flags);
        if (!h) snprintf(why, whylen, "%s=%s does not load: %s", env, user, dlerror());
        else snprintf(where, wlen, "%s", user);
        return h;
    }
    char beside[PATH_MAX];
    beside_program(soname, beside, sizeof beside);
    if (beside[0] && access(beside, F_OK) == 0) {
        void *h = dlopen(beside, flags);
        if (!h) {
            snprintf(why, whylen, "%s does not load: %s", beside, dlerror());
            return NULL;
        }
        snprintf(where, wlen, "%s", beside);
        return h;
    }
    void *h = dlopen(soname, flags);
    if (!h) {
        const char *e = dlerror();
        if (e && strstr(e, "cannot open shared object file"))
            snprintf(why, whylen, "%s not found (not in $%s, %s, or the library path; %s)", soname,
                     env, beside[0] ? beside : "../lib beside the program", missing);
        else
            snprintf(why, whylen, "%s does not load: %s", soname, e ? e : "unknown error");
        return NULL;
    }
    snprintf(where, wlen, "%s from the library path", soname);
    return h;
}
