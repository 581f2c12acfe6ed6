/*
 * The idle half of a container shim, in C so that each running container costs well under
 * a megabyte of shim memory instead of a Python interpreter's ten.
 *
 * runtime/shim.py starts the container (namespaces, cgroups, rootfs: Python) and then execs this
 * program, which inherits the container's output pipes (or pty master), stays the container
 * init's parent (the subreaper flag survives execve) and does what shim.py's own pump loop does:
 * CRI log records "<RFC3339Nano> <stream> <F|P> <content>" with size-based rotation, reopen on
 * SIGUSR1, tty resize on SIGWINCH from BUNDLE/winsize, and the exit status (128+N for signal N,
 * OOMKilled from the cgroup's oom_kill counter) written atomically to BUNDLE/status.json.
 *
 * It also serves attach: BUNDLE/attach.sock (SOCK_SEQPACKET) takes up to 8 clients; each message is a
 * channel byte and data, as in Kubernetes' streaming protocol: output goes out on 1 (stdout) and 2
 * (stderr); clients send 0 (stdin), 4 ("ROWS COLS" resize) and 255 0 (close stdin).
 *
 * usage: shim-pump BUNDLE PID STARTED_NS LOG_PATH MAX_SIZE MAX_FILES OOM_FILE TTY STDIN_FD STDIN_ONCE FD:STREAM...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 16384
#define MAX_STREAMS 2
#define DRAIN_AFTER_EXIT_MS 2000
#define MAX_CLIENTS 8
#define ATTACH_SOCKET "attach.sock"

struct stream {
    int fd;
    int channel;
    const char *name;
    size_t len;
    char buf[MAX_LINE];
};

static const char *log_path;
static long long max_size;
static int max_files;
static int log_fd = -1;
static long long log_size;
static int wake[2];
static int tty, stdin_fd = -1, stdin_once, listen_fd = -1;
static int clients[MAX_CLIENTS];
static volatile sig_atomic_t want_reopen, want_resize;

static void on_signal(int sig) {
    int saved = errno;
    if (sig == SIGUSR1) want_reopen = 1;
    if (sig == SIGWINCH) want_resize = 1;
    if (write(wake[1], "x", 1) < 0) { /* the pipe is full: a wake-up is already pending */ }
    errno = saved;
}

/* mkdir -p of the log file's directory: kubelet names a per-container directory it may not have made yet. */
static void make_parents(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    }
}

static void log_open(void) {
    struct stat st;
    if (log_fd >= 0) close(log_fd);
    log_fd = -1;
    log_size = 0;
    if (!log_path[0]) return;
    make_parents(log_path);
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd >= 0 && fstat(log_fd, &st) == 0) log_size = st.st_size;
}

static void rotate(void) {
    char from[4096], to[4096];
    if (max_files <= 1) {
        if (ftruncate(log_fd, 0) == 0) log_size = 0;
        return;
    }
    for (int i = max_files - 1; i > 1; i--) {
        snprintf(from, sizeof from, "%s.%d", log_path, i - 1);
        snprintf(to, sizeof to, "%s.%d", log_path, i);
        rename(from, to);
    }
    snprintf(to, sizeof to, "%s.1", log_path);
    rename(log_path, to);
    log_open();
}

static void emit(const char *stream, char tag, const char *data, size_t n) {
    char head[96];
    struct timespec now;
    struct tm tm;
    if (log_fd < 0) return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    int hl = snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ %s %c ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec, stream, tag);
    long long total = hl + (long long)n + 1;
    if (max_size > 0 && log_size > 0 && log_size + total > max_size) rotate();
    if (log_fd < 0) return;
    struct iovec iov[3] = {{head, (size_t)hl}, {(void *)data, n}, {"\n", 1}};
    if (writev(log_fd, iov, 3) > 0) log_size += total;
}

/* Emit every complete line in the buffer; a full buffer without a newline becomes a partial record. */
static void drain_lines(struct stream *s) {
    size_t start = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (s->buf[i] == '\n') {
            emit(s->name, 'F', s->buf + start, i - start);
            start = i + 1;
        }
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    if (s->len == MAX_LINE) {
        emit(s->name, 'P', s->buf, s->len);
        s->len = 0;
    }
}

static void resize(const char *bundle, int master) {
    char path[4096];
    unsigned rows = 0, cols = 0;
    snprintf(path, sizeof path, "%s/winsize", bundle);
    FILE *f = fopen(path, "re");
    if (!f) return;
    if (fscanf(f, "%u %u", &rows, &cols) == 2) {
        struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
        ioctl(master, TIOCSWINSZ, &ws);
    }
    fclose(f);
}

static long long oom_kills(const char *file) {
    char line[256];
    long long count = 0;
    if (!file[0]) return 0;
    FILE *f = fopen(file, "re");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "oom_kill ", 9) == 0) count = atoll(line + 9);
    fclose(f);
    return count;
}

static long long now_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Field 22 of /proc/self/stat: with the PID it names this shim uniquely (see shimclient.start_ticks). */
static unsigned long long own_start_ticks(void) {
    char buf[1024];
    unsigned long long ticks = 0;
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');
    if (p) ticks = strtoull(p + 1, NULL, 10);
    return ticks;
}

static int write_status(const char *bundle, long pid, long long started, int code, int oom) {
    char tmp[4096], path[4096], body[512];
    snprintf(path, sizeof path, "%s/status.json", bundle);
    snprintf(tmp, sizeof tmp, "%s/status.json.tmp.%ld", bundle, (long)getpid());
    int n = snprintf(body, sizeof body,
                     "{\"pid\": %ld, \"shim_pid\": %ld, \"shim_start\": %llu, \"started_at\": %lld, "
                     "\"finished_at\": %lld, \"exit_code\": %d, \"oom_killed\": %s, \"reason\": \"%s\"}",
                     pid, (long)getpid(), own_start_ticks(), started, now_ns(CLOCK_REALTIME), code, oom ? "true" : "false",
                     oom ? "OOMKilled" : (code == 0 ? "Completed" : "Error"));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    if (write(fd, body, (size_t)n) != n || fsync(fd) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return rename(tmp, path);
}

static void write_all(int fd, const char *data, size_t n) {
    while (n > 0) {
        ssize_t put = write(fd, data, n);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) return;
        data += put;
        n -= (size_t)put;
    }
}

/* Output also goes to every attached client, as one [channel][bytes] message each; a slow client loses data. */
static void broadcast(int channel, const char *data, size_t n) {
    char msg[MAX_LINE + 1];
    msg[0] = (char)channel;
    memcpy(msg + 1, data, n);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i] >= 0 && send(clients[i], msg, n + 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN) {
            close(clients[i]);
            clients[i] = -1;
        }
    }
}

static void close_stdin(void) {
    if (stdin_fd < 0) return;
    if (tty) {
        write_all(stdin_fd, "\x04", 1); /* the terminal's end of input; the master also carries output */
    } else {
        close(stdin_fd);
        stdin_fd = -1;
    }
}

/* One message from an attached client: [0]=stdin data, [4]="ROWS COLS" resize, [255,0]=close stdin. */
static void client_input(int i) {
    char buf[65536];
    ssize_t n = recv(clients[i], buf, sizeof buf - 1, 0);
    if (n <= 0) {
        close(clients[i]);
        clients[i] = -1;
        if (stdin_once) close_stdin();
        return;
    }
    buf[n] = '\0';
    unsigned rows = 0, cols = 0;
    switch ((unsigned char)buf[0]) {
    case 0:
        if (stdin_fd >= 0) write_all(stdin_fd, buf + 1, (size_t)n - 1);
        break;
    case 4:
        if (tty && stdin_fd >= 0 && sscanf(buf + 1, "%u %u", &rows, &cols) == 2) {
            struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
            ioctl(stdin_fd, TIOCSWINSZ, &ws);
        }
        break;
    case 255:
        if (n >= 2 && buf[1] == 0) close_stdin();
        break;
    }
}

static void attach_listen(void) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, ATTACH_SOCKET); /* relative to the bundle, our cwd: bundle paths outgrow sun_path */
    unlink(ATTACH_SOCKET);
    listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) return;
    if (bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listen_fd, 4) != 0) {
        close(listen_fd);
        listen_fd = -1;
    }
}

int main(int argc, char **argv) {
    if (argc < 12) {
        fprintf(stderr,
                "usage: %s BUNDLE PID STARTED_NS LOG_PATH MAX_SIZE MAX_FILES OOM_FILE TTY STDIN_FD STDIN_ONCE "
                "FD:STREAM...\n", argv[0]);
        return 2;
    }
    const char *bundle = argv[1];
    pid_t pid = (pid_t)atol(argv[2]);
    long long started = atoll(argv[3]);
    log_path = argv[4];
    max_size = atoll(argv[5]);
    max_files = atoi(argv[6]);
    const char *oom_file = argv[7];
    tty = atoi(argv[8]);
    stdin_fd = atoi(argv[9]);
    stdin_once = atoi(argv[10]);
    if (stdin_fd >= 0) fcntl(stdin_fd, F_SETFD, FD_CLOEXEC);
    struct stream streams[MAX_STREAMS];
    int nstreams = 0;
    for (int i = 11; i < argc && nstreams < MAX_STREAMS; i++) {
        char *colon = strchr(argv[i], ':');
        if (!colon) return 2;
        *colon = '\0';
        streams[nstreams].fd = atoi(argv[i]);
        streams[nstreams].name = colon + 1;
        streams[nstreams].channel = strcmp(colon + 1, "stderr") == 0 ? 2 : 1;
        streams[nstreams].len = 0;
        fcntl(streams[nstreams].fd, F_SETFD, FD_CLOEXEC);
        nstreams++;
    }
    for (int i = 0; i < MAX_CLIENTS; i++) clients[i] = -1;
    if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    log_open();
    if (chdir(bundle) == 0) attach_listen();

    int exited = 0, wstatus = 0, open_streams = nstreams;
    long long deadline = 0;
    for (;;) {
        int st;
        pid_t reaped;
        while ((reaped = waitpid(-1, &st, WNOHANG)) > 0) {
            if (reaped == pid) {
                exited = 1;
                wstatus = st;
                deadline = now_ns(CLOCK_MONOTONIC) + DRAIN_AFTER_EXIT_MS * 1000000LL;
            }
        }
        long long left = deadline - now_ns(CLOCK_MONOTONIC);
        if (exited && (open_streams == 0 || left <= 0)) break;
        struct pollfd pfds[MAX_STREAMS + MAX_CLIENTS + 2];
        int kind[MAX_STREAMS + MAX_CLIENTS + 2], index[MAX_STREAMS + MAX_CLIENTS + 2], n = 0;
        for (int i = 0; i < nstreams; i++) {
            if (streams[i].fd >= 0) {
                pfds[n] = (struct pollfd){streams[i].fd, POLLIN, 0};
                kind[n] = 's';
                index[n++] = i;
            }
        }
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (clients[i] >= 0) {
                pfds[n] = (struct pollfd){clients[i], POLLIN, 0};
                kind[n] = 'c';
                index[n++] = i;
            }
        }
        if (listen_fd >= 0) {
            pfds[n] = (struct pollfd){listen_fd, POLLIN, 0};
            kind[n] = 'l';
            index[n++] = 0;
        }
        pfds[n] = (struct pollfd){wake[0], POLLIN, 0};
        kind[n] = 'w';
        index[n++] = 0;
        int ready = poll(pfds, (nfds_t)n, exited ? (int)(left / 1000000 + 1) : -1);
        if (ready < 0 && errno != EINTR) break;
        if (want_reopen) {
            want_reopen = 0;
            log_open();
        }
        if (want_resize) {
            want_resize = 0;
            if (tty && nstreams) resize(bundle, streams[0].fd);
        }
        if (ready <= 0) continue;
        for (int k = 0; k < n; k++) {
            if (!pfds[k].revents) continue;
            if (kind[k] == 'w') {
                char junk[64];
                while (read(wake[0], junk, sizeof junk) > 0) {}
            } else if (kind[k] == 'l') {
                int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                int slot = -1;
                for (int i = 0; i < MAX_CLIENTS && c >= 0; i++)
                    if (clients[i] < 0) slot = i;
                if (slot >= 0) clients[slot] = c;
                else if (c >= 0) close(c);
            } else if (kind[k] == 'c') {
                if (clients[index[k]] >= 0) client_input(index[k]);
            } else {
                struct stream *s = &streams[index[k]];
                ssize_t got = read(s->fd, s->buf + s->len, MAX_LINE - s->len);
                if (got > 0) {
                    broadcast(s->channel, s->buf + s->len, (size_t)got);
                    s->len += (size_t)got;
                    drain_lines(s);
                } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                    /* EOF, or EIO from a pty master once the container closed its side */
                    if (s->len) emit(s->name, 'F', s->buf, s->len);
                    s->len = 0;
                    close(s->fd);
                    if (s->fd == stdin_fd) stdin_fd = -1;
                    s->fd = -1;
                    open_streams--;
                }
            }
        }
    }
    for (int i = 0; i < nstreams; i++)
        if (streams[i].len) emit(streams[i].name, 'F', streams[i].buf, streams[i].len);
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i] >= 0) close(clients[i]);
    if (listen_fd >= 0) unlink(ATTACH_SOCKET);
    int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    return write_status(bundle, (long)pid, started, code, oom_kills(oom_file) > 0) == 0 ? 0 : 1;
}
