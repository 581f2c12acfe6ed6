/*
 * tinykube-cni's thin executable: hands one CNI call to the node's plugin server (cni/plugin_server.py)
 * over a unix socket, instead of starting an interpreter for it (most of what each ADD and DEL cost).
 *
 * Built by cni/plugin_install.py with the server's socket (PLUGIN_SOCKET) and the full Python plugin
 * (PLUGIN_FALLBACK) compiled in. When no server listens, the call is the Python plugin's own: this
 * process execs it with stdin untouched. When the server accepted the call but ended without an answer
 * (it died mid-call), the runtime gets the spec's "try again later" error, never a guess.
 *
 * Request: each CNI_* variable as "NAME=VALUE\0", an empty "\0", then the network config (stdin) to the
 * end. Answer: the exit code in decimal, "\n", then what goes to stdout.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef PLUGIN_SOCKET
#error "PLUGIN_SOCKET must be defined"
#endif
#ifndef PLUGIN_FALLBACK
#error "PLUGIN_FALLBACK must be defined"
#endif

extern char **environ;

static const char NO_ANSWER[] =
    "{\"cniVersion\": \"1.0.0\", \"code\": 11, \"msg\": \"tinykube-cni: the plugin server ended the call"
    " without an answer\"}\n";

static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fail(void) {
    write_all(1, NO_ANSWER, sizeof NO_ANSWER - 1);
    return 1;
}

int main(int argc, char **argv) {
    (void)argc;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(PLUGIN_SOCKET) >= sizeof addr.sun_path) {
        execv(PLUGIN_FALLBACK, argv);
        return fail();
    }
    strcpy(addr.sun_path, PLUGIN_SOCKET);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0) {
        execv(PLUGIN_FALLBACK, argv); /* no server: the plugin runs in this process instead */
        return fail();
    }
    signal(SIGPIPE, SIG_IGN); /* a server gone mid-call is an answer we report, not a signal that kills us */
    for (char **env = environ; *env; env++) {
        if (strncmp(*env, "CNI_", 4) == 0 && write_all(sock, *env, strlen(*env) + 1) != 0) return fail();
    }
    if (write_all(sock, "", 1) != 0) return fail();
    char buf[65536];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (write_all(sock, buf, (size_t)n) != 0) return fail();
    }
    shutdown(sock, SHUT_WR);
    char *answer = NULL;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(sock, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        char *grown = realloc(answer, len + (size_t)n);
        if (grown == NULL) return fail();
        answer = grown;
        memcpy(answer + len, buf, (size_t)n);
        len += (size_t)n;
    }
    char *newline = answer ? memchr(answer, '\n', len) : NULL;
    if (newline == NULL || newline == answer) return fail();
    int code = 0;
    for (char *p = answer; p < newline; p++) {
        if (*p < '0' || *p > '9' || code > 255) return fail();
        code = code * 10 + (*p - '0');
    }
    size_t rest = len - (size_t)(newline + 1 - answer);
    if (write_all(1, newline + 1, rest) != 0) return 1;
    return code;
}
