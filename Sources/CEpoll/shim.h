#ifndef TRELLIS_CEPOLL_SHIM_H
#define TRELLIS_CEPOLL_SHIM_H
/* Linux event and socket calls that Glibc's Swift module does not export. */
#define _GNU_SOURCE 1
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>

static inline int trellis_accept4(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

static inline int trellis_errno(void) { return errno; }

static inline void trellis_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }
#endif
