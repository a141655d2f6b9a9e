// Thin wrappers: Swift's Glibc module lacks epoll/eventfd/timerfd/accept4 and cannot use
// the packed struct epoll_event comfortably.
#define _GNU_SOURCE
#include "CProxyLinux.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>

const uint32_t CProxyLinux_EPOLLIN = EPOLLIN;
const uint32_t CProxyLinux_EPOLLOUT = EPOLLOUT;
const uint32_t CProxyLinux_EPOLLERR = EPOLLERR;
const uint32_t CProxyLinux_EPOLLHUP = EPOLLHUP;
const uint32_t CProxyLinux_EPOLLRDHUP = EPOLLRDHUP;

int CProxyLinux_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int CProxyLinux_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int CProxyLinux_epoll_wait(int epfd, uint32_t *events, uint64_t *datas, int maxevents, int timeout_ms) {
    struct epoll_event evs[256];
    if (maxevents > 256) maxevents = 256;
    int n = epoll_wait(epfd, evs, maxevents, timeout_ms);
    for (int i = 0; i < n; i++) {
        events[i] = evs[i].events;
        datas[i] = evs[i].data.u64;
    }
    return n;
}

int CProxyLinux_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int CProxyLinux_eventfd_write(int fd) {
    uint64_t one = 1;
    return (int)write(fd, &one, sizeof one);
}

int CProxyLinux_eventfd_drain(int fd) {
    uint64_t value;
    return (int)read(fd, &value, sizeof value);
}

int CProxyLinux_accept4(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int CProxyLinux_socket_nonblocking(int domain, int type) {
    return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

int CProxyLinux_set_reuseport(int fd) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return -1;
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
}

int CProxyLinux_set_reuseaddr(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
}

int CProxyLinux_set_reuseport_only(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
}

int CProxyLinux_set_nodelay(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int CProxyLinux_socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
}

int CProxyLinux_block_signal(int sig) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void CProxyLinux_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

int CProxyLinux_cpu_count(void) { return (int)sysconf(_SC_NPROCESSORS_ONLN); }

int64_t CProxyLinux_open_file_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    if (rl.rlim_cur == RLIM_INFINITY) return INT64_MAX;
    return (int64_t)rl.rlim_cur;
}

void CProxyLinux_set_thread_name(const char *name) {
    char shortName[16];
    strncpy(shortName, name, sizeof shortName - 1);
    shortName[sizeof shortName - 1] = 0;
    pthread_setname_np(pthread_self(), shortName);
}
