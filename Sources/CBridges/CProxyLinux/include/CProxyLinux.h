#ifndef C_PROXY_LINUX_H
#define C_PROXY_LINUX_H
// Linux calls that Swift's Glibc module does not export (epoll, eventfd, timerfd, accept4) and
// socket option constants that come through as macros. Every export is prefixed CProxyLinux_.
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>

extern const uint32_t CProxyLinux_EPOLLIN;
extern const uint32_t CProxyLinux_EPOLLOUT;
extern const uint32_t CProxyLinux_EPOLLERR;
extern const uint32_t CProxyLinux_EPOLLHUP;
extern const uint32_t CProxyLinux_EPOLLRDHUP;

int CProxyLinux_epoll_create(void);
int CProxyLinux_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits for events; fills parallel arrays so Swift never touches the packed epoll_event struct.
int CProxyLinux_epoll_wait(int epfd, uint32_t *events, uint64_t *datas, int maxevents, int timeout_ms);

int CProxyLinux_eventfd(void);
int CProxyLinux_eventfd_write(int fd);
int CProxyLinux_eventfd_drain(int fd);

int CProxyLinux_accept4(int fd, struct sockaddr *addr, socklen_t *len);
int CProxyLinux_socket_nonblocking(int domain, int type);
int CProxyLinux_set_reuseport(int fd);
/// SO_REUSEADDR only (restart over TIME_WAIT connections) for a socket that must not share its port.
int CProxyLinux_set_reuseaddr(int fd);
/// SO_REUSEPORT only, set on an already bound socket so that sockets bound after it may join its port.
int CProxyLinux_set_reuseport_only(int fd);
int CProxyLinux_set_nodelay(int fd);
/// SO_ERROR of a socket (result of a non-blocking connect).
int CProxyLinux_socket_error(int fd);
/// Blocks the given signal in the calling thread (and threads it creates later).
int CProxyLinux_block_signal(int sig);
/// Ignores SIGPIPE process-wide: writes to a closed socket return EPIPE instead of killing us.
void CProxyLinux_ignore_sigpipe(void);
/// The soft RLIMIT_NOFILE (open-file limit) of the process; -1 when unknown, INT64_MAX when unlimited.
int64_t CProxyLinux_open_file_limit(void);
/// Names the calling thread (shown by top -H, ps -L, /proc/<pid>/task/<tid>/comm); at most 15 bytes are kept.
void CProxyLinux_set_thread_name(const char *name);
/// Number of online CPUs.
int CProxyLinux_cpu_count(void);
#endif
