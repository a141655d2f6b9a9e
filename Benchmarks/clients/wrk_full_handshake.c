/* LD_PRELOAD shim for wrk: every TLS connection makes a full handshake (no session resumption).
 *
 *   LD_PRELOAD=.work/wrk_full_handshake.so wrk ... https://...
 *
 * wrk keeps one SSL object per connection slot and, when it reconnects, SSL_clear()s it and
 * calls SSL_connect() again. SSL_clear keeps the previous session, so every connection after a
 * slot's first would resume it (a PSK handshake: no certificate, no signature). For the
 * handshakes scenario each new connection must cost what a new visitor costs, so this wraps
 * SSL_connect and, while the handshake has not started yet (SSL_in_before), drops the session the
 * SSL object carries. Nothing else in wrk changes: the same request script, the same checks.
 * The proxies' own counters confirm it (Envoy's ssl.session_reused stays at 0).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*connect_function)(SSL *);

int SSL_connect(SSL *ssl) {
    static connect_function real_connect;
    if (real_connect == NULL) {
        real_connect = (connect_function)dlsym(RTLD_NEXT, "SSL_connect");
        if (real_connect == NULL) {
            fprintf(stderr, "wrk_full_handshake: SSL_connect not found: %s\n", dlerror());
            abort();
        }
    }
    if (SSL_in_before(ssl) && SSL_get0_session(ssl) != NULL) {
        SSL_set_session(ssl, NULL);  /* offer no session: a full handshake */
    }
    return real_connect(ssl);
}
