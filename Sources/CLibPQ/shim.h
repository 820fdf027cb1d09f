#ifndef DOSSIER_CLIBPQ_SHIM_H
#define DOSSIER_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
