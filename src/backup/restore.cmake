# Restore (planning and replay) and its tests; included from src/backup/CMakeLists.txt.
target_sources(cairn_backup PRIVATE restore.cc)
cairn_test(restore_test SOURCES restore_test.cc LIBS cairn_backup cairn_txlog cairn_objectstore cairn_sqlite3)
