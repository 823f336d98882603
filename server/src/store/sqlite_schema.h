// closeloop server — the SQLite store's schema and its migrations. Internal to the store library.
#pragma once

#include <filesystem>

#include "sqlite_db.h"

namespace closeloop::server::sqlite {

// The schema version this closeloop writes (the number of migrations).
int latest_schema_version();
// The schema version of the database on `db` (0 for a new file).
int user_version(Db& db);
// Brings the database on `db` to the latest schema, one migration per transaction. Throws
// std::runtime_error naming `file` when the database is newer than this closeloop.
void migrate(Db& db, const std::filesystem::path& file);

}  // namespace closeloop::server::sqlite
