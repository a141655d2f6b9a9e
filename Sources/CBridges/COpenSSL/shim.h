// OpenSSL for SHA-1 (WebSocket accept key), TLS and certificate inspection. Macros and stack helpers Swift cannot
// import become small static inline functions here; nothing else.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>

static inline long COpenSSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline int COpenSSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int COpenSSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
static inline int COpenSSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_groups_list(ctx, list);
}
static inline void COpenSSL_CTX_set_read_ahead(SSL_CTX *ctx, int on) { SSL_CTX_set_read_ahead(ctx, on); }
static inline long COpenSSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline void COpenSSL_CTX_set_servername_callback(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *), void *arg) {
    SSL_CTX_set_tlsext_servername_callback(ctx, cb);
    SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}
static inline int COpenSSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
static inline int COpenSSL_CTX_add_extra_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return (int)SSL_CTX_add_extra_chain_cert(ctx, cert);
}
static inline int COpenSSL_GENERAL_NAMES_count(const GENERAL_NAMES *names) { return sk_GENERAL_NAME_num(names); }
static inline const GENERAL_NAME *COpenSSL_GENERAL_NAMES_at(const GENERAL_NAMES *names, int i) {
    return sk_GENERAL_NAME_value(names, i);
}
static inline void COpenSSL_GENERAL_NAMES_free(GENERAL_NAMES *names) { GENERAL_NAMES_free(names); }
/// The GENERAL_NAME's type (GEN_DNS, GEN_URI, GEN_IPADD...) and its IA5String or OCTET STRING data.
static inline int COpenSSL_GENERAL_NAME_type(const GENERAL_NAME *name) { return name->type; }
static inline const ASN1_STRING *COpenSSL_GENERAL_NAME_string(const GENERAL_NAME *name) {
    switch (name->type) {
    case GEN_DNS: return name->d.dNSName;
    case GEN_URI: return name->d.uniformResourceIdentifier;
    case GEN_IPADD: return name->d.iPAddress;
    case GEN_EMAIL: return name->d.rfc822Name;
    default: return NULL;
    }
}
static inline void COpenSSL_free(void *p) { OPENSSL_free(p); }
static inline int COpenSSL_X509_STACK_count(STACK_OF(X509) *s) { return sk_X509_num(s); }
static inline X509 *COpenSSL_X509_STACK_at(STACK_OF(X509) *s, int i) { return sk_X509_value(s, i); }
static inline void COpenSSL_X509_NAME_STACK_free(STACK_OF(X509_NAME) *s) { sk_X509_NAME_pop_free(s, X509_NAME_free); }
// Option and flag values defined through casts or shifts of other macros, which Swift does not import.
static inline uint64_t COpenSSL_secure_options(void) {
    return SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION;
}
static inline unsigned long COpenSSL_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }
static inline int COpenSSL_set_app_data(SSL *ssl, void *data) { return SSL_set_ex_data(ssl, 0, data); }
static inline void *COpenSSL_get_app_data(const SSL *ssl) { return SSL_get_ex_data(ssl, 0); }
// JWT signature verification (TLS/Signatures): public keys built from JWK members with OSSL_PARAM_BLD, and the
// selection value EVP_PKEY_fromdata needs, which is a macro made of other macros.
#include <openssl/param_build.h>
#include <openssl/rsa.h>
static inline int COpenSSL_EVP_PKEY_PUBLIC_KEY(void) { return EVP_PKEY_PUBLIC_KEY; }
