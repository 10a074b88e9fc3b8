#ifndef SPOOL_CLIBPQ_SHIM_H
#define SPOOL_CLIBPQ_SHIM_H
#include <postgresql/libpq-fe.h>
#endif
