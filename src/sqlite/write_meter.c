/* The SQLite library Cairn links: the pinned amalgamation and, in the same translation unit, the
 * write meter (write_meter.h), which reads SQLite's internal schema objects (Table, Index, Column)
 * and the pre-update context. Compiling it here, not against a copy of those declarations, means
 * an amalgamation whose internals differ fails to build instead of counting wrongly. */
/* Scan status (SQLITE_DBCONFIG_STMT_SCANSTATUS, on for every connection) is how rows_read is
 * metered: Cairn reads SQLITE_SCANSTAT_NVISIT, never SQLITE_SCANSTAT_NCYCLE. For the latter SQLite
 * would read the CPU's cycle counter (rdtsc) twice per VDBE opcode of every statement — about
 * 0.2 µs of a point select's 0.6 µs (bench/metering_bench). Defining hwtime.h's include guard
 * drops that version; the sqlite3Hwtime() defined at the end of this file reads nothing. */
#define SQLITE_HWTIME_H 1
#include "sqlite3.c"

#include "sqlite/write_meter.h"

/* The PRIMARY KEY of a WITHOUT ROWID table is the table's own b-tree, not an extra write. */
static int cairnIsSecondaryIndex(const Table* pTab, const Index* pIdx) {
  return HasRowid(pTab) || !IsPrimaryKeyIndex(pIdx);
}

static uint64_t cairnSecondaryIndexCount(const Table* pTab) {
  uint64_t n = 0;
  const Index* pIdx;
  for (pIdx = pTab->pIndex; pIdx; pIdx = pIdx->pNext)
    n += (uint64_t)cairnIsSecondaryIndex(pTab, pIdx);
  return n;
}

/* True when index key column `iCol` of pIdx uses a changed column (aiChng[c] >= 0). */
static int cairnIndexColumnChanged(Index* pIdx, int iCol, int* aiChng) {
  const int c = pIdx->aiColumn[iCol];
  if (c >= 0) return aiChng[c] >= 0;
  if (c == XN_EXPR && pIdx->aColExpr != 0)
    return sqlite3ExprReferencesUpdatedColumn(pIdx->aColExpr->a[iCol].pExpr, aiChng, 0);
  return 0; /* XN_ROWID: the rowid did not change (handled by the caller) */
}

/* Index entries the UPDATE reported to the running pre-update hook rewrites. */
static uint64_t cairnUpdatedIndexCount(sqlite3* db, PreUpdate* p) {
  Table* pTab = p->pTab;
  const uint64_t nIndexes = cairnSecondaryIndexCount(pTab);
  int aiStack[64];
  int* aiChng;
  int i, pass, keyChanged = 0;
  uint64_t n = 0;
  Index* pIdx;

  if (nIndexes == 0) return 0;
  aiChng = pTab->nCol <= 64 ? aiStack : (int*)sqlite3DbMallocRaw(db, sizeof(int) * pTab->nCol);
  if (aiChng == 0) return nIndexes; /* out of memory: count as if every index changed */

  /* aiChng[i] >= 0 when column i has a new value (SQLite's convention for UPDATE's SET list). */
  for (i = 0; i < pTab->nCol; i++) {
    sqlite3_value* pOld = 0;
    sqlite3_value* pNew = 0;
    aiChng[i] = -1;
    if (pTab->aCol[i].colFlags & COLFLAG_VIRTUAL) continue; /* below, from what it is made of */
    if (sqlite3_preupdate_old(db, i, &pOld) != SQLITE_OK ||
        sqlite3_preupdate_new(db, i, &pNew) != SQLITE_OK || pOld == 0 || pNew == 0 ||
        sqlite3MemCompare(pOld, pNew, 0) != 0) {
      aiChng[i] = i;
    }
  }
  /* A VIRTUAL generated column changes when a column its expression uses does (twice: one may
   * use another that comes after it). */
  if (pTab->tabFlags & TF_HasVirtual) {
    for (pass = 0; pass < 2; pass++) {
      for (i = 0; i < pTab->nCol; i++) {
        Column* pCol = &pTab->aCol[i];
        Expr* pExpr;
        if (!(pCol->colFlags & COLFLAG_VIRTUAL) || aiChng[i] >= 0) continue;
        pExpr = sqlite3ColumnExpr(pTab, pCol);
        if (pExpr && sqlite3ExprReferencesUpdatedColumn(pExpr, aiChng, 0)) aiChng[i] = i;
      }
    }
  }

  /* Every index entry holds the row's key: a new key rewrites them all. */
  if (HasRowid(pTab)) {
    keyChanged = p->iKey1 != p->iKey2;
  } else if (p->pPk) {
    for (i = 0; i < p->pPk->nKeyCol && !keyChanged; i++)
      keyChanged = cairnIndexColumnChanged(p->pPk, i, aiChng);
  }

  for (pIdx = pTab->pIndex; pIdx; pIdx = pIdx->pNext) {
    int changed = keyChanged;
    if (!cairnIsSecondaryIndex(pTab, pIdx)) continue;
    for (i = 0; i < pIdx->nKeyCol && !changed; i++)
      changed = cairnIndexColumnChanged(pIdx, i, aiChng);
    /* The row may enter or leave a partial index. */
    if (!changed && pIdx->pPartIdxWhere)
      changed = sqlite3ExprReferencesUpdatedColumn(pIdx->pPartIdxWhere, aiChng, 0);
    n += (uint64_t)(changed != 0);
  }
  if (aiChng != aiStack) sqlite3DbFree(db, aiChng);
  return n;
}

static void cairnMeterHook(void* pArg, sqlite3* db, int op, const char* zDb, const char* zTab,
                           sqlite3_int64 iKey1, sqlite3_int64 iKey2) {
  PreUpdate* p = db->pPreUpdate;
  uint64_t n = 1;
  (void)zDb;
  (void)zTab;
  (void)iKey1;
  (void)iKey2;
  if (p != 0 && p->pTab != 0)
    n += op == SQLITE_UPDATE ? cairnUpdatedIndexCount(db, p) : cairnSecondaryIndexCount(p->pTab);
  *(uint64_t*)pArg += n;
}

void cairn_meter_row_writes(struct sqlite3* db, uint64_t* rows_written) {
  if (rows_written == 0) {
    sqlite3_preupdate_hook(db, 0, 0);
  } else {
    sqlite3_preupdate_hook(db, cairnMeterHook, rows_written);
  }
}

/* See the top of this file: no cycle counts (SQLITE_SCANSTAT_NCYCLE reads 0). */
SQLITE_PRIVATE sqlite3_uint64 sqlite3Hwtime(void) { return 0; }
