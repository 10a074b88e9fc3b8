#ifndef SPOOL_CCURL_SHIM_H
#define SPOOL_CCURL_SHIM_H
#include <curl/curl.h>

// curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift cannot call:
// one typed wrapper per argument kind.
typedef size_t (*spool_curl_data_callback)(char *data, size_t size, size_t count, void *user);
// CURLOPT_SEEKFUNCTION: libcurl rewinds a streamed upload with it (a request sent again on a fresh
// connection after a reused one turned out dead).
typedef int (*spool_curl_seek_callback)(void *user, curl_off_t offset, int origin);

static inline CURLcode spool_curl_set_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode spool_curl_set_offset(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode spool_curl_set_pointer(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode spool_curl_set_callback(CURL *h, CURLoption o, spool_curl_data_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode spool_curl_set_seek_callback(CURL *h, CURLoption o, spool_curl_seek_callback v) { return curl_easy_setopt(h, o, v); }

static inline CURLcode spool_curl_get_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode spool_curl_get_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode spool_curl_get_offset(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }

static inline CURLMcode spool_curl_multi_set_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
#endif
