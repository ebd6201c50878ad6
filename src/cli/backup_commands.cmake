# `cairn restore` and `cairn verify`; included from src/cli/CMakeLists.txt.
target_sources(cairn PRIVATE backup_commands.cc)
target_link_libraries(cairn PRIVATE cairn_backup cairn_engine cairn_txlog cairn_objectstore)
