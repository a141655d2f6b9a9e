// Debian 12 ships nghttp2 1.52: the *2 APIs (mem_recv2, data_provider2, ...) are absent, use the 1.x ones.
#include <nghttp2/nghttp2.h>
