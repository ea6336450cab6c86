#ifndef TRELLIS_CEPOLL_SHIM_H
#define TRELLIS_CEPOLL_SHIM_H
/* Linux event and socket calls that Glibc's Swift module does not export. */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <errno.h>
#include <signal.h>
#include <pthread.h>

/* accept4 is declared by glibc only under _GNU_SOURCE, which would make these headers
   disagree with the Glibc module's copies; its signature is stable, so declare it. */
extern int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/* Likewise declared only under _GNU_SOURCE. */
extern int pthread_setname_np(pthread_t thread, const char *name);

static inline int trellis_accept_nonblocking(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

static inline int trellis_errno(void) { return errno; }

static inline void trellis_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }
#endif
