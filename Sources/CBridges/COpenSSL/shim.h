// OpenSSL for SHA-1 (WebSocket accept key) and, later, TLS. Macros Swift cannot import become static inline here.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/evp.h>
