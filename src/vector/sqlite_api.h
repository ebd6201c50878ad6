// Which SQLite API the vector code calls through.
//
// The same sources build twice: into `cairn_vector`, linked with Cairn's own SQLite
// (`cairn_sqlite3`), and into the loadable extension `cairn_vector_ext` (CAIRN_VECTOR_LOADABLE),
// where every sqlite3_* call goes through the routine table the host passes to the entry point.
// The loadable build must only call routines that SQLite 3.31 already had, so that older hosts
// (e.g. a distribution's `sqlite3` shell) can load it.
#pragma once

#ifdef CAIRN_VECTOR_LOADABLE
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif
