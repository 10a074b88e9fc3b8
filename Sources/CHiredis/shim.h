#ifndef SPOOL_CHIREDIS_SHIM_H
#define SPOOL_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>

// hiredis keeps the error in a fixed char array inside the context; Swift sees it as a tuple.
static inline const char *spool_redis_errstr(const redisContext *c) { return c->errstr; }
static inline int spool_redis_err(const redisContext *c) { return c->err; }
#endif
