// closeloop server — a SQLite VFS that gathers the WAL's appends into few large writes.
//
// SQLite writes each WAL frame as two write() calls (its 24-byte header, then the page), so a
// commit of 3,000 pages costs 6,000 system calls; on this machine's virtual CPU those were a
// fifth of the writer's time. This VFS wraps the default one. Every file but the WAL goes
// straight to it. On the WAL, writes that extend the log are kept in a buffer (1 MiB) and
// written in a few calls (64 KiB each) when the buffer is full, when a write goes elsewhere, before any read,
// sync, truncate or size query, and at once after the page of a commit frame (the frame whose
// header carries the database size). The buffer is therefore empty whenever SQLite makes a
// commit visible to other connections (it updates the shared wal-index only after the commit
// frame is written) and before a commit returns: a committed transaction is in the kernel,
// as with the default VFS, and fsyncs see all of it. Writes over earlier frames (a page
// written twice in one transaction, checksums rewritten after that) are not buffered.
#pragma once

namespace closeloop::server::sqlite {

// The VFS's name, registered on first call (thread-safe); pass it to sqlite3_open_v2.
const char* buffered_wal_vfs();

}  // namespace closeloop::server::sqlite
