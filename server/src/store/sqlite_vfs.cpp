#include "sqlite_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace closeloop::server::sqlite {

namespace {

constexpr const char* vfs_name = "closeloop-wal-buffer";
constexpr sqlite3_int64 buffer_bytes = 1 << 20;
constexpr int wal_header_bytes = 32, frame_header_bytes = 24;

sqlite3_vfs* base_vfs = nullptr;  // the default VFS, set before ours is registered

sqlite3_vfs* real_vfs() {
    return base_vfs;
}

// A WAL file: the buffer, then the real file's own struct right after this one.
// SQLite gives 8-byte aligned memory (so no over-aligned members or alignas here).
struct WalFile {
    sqlite3_file base;  // first: SQLite sees this
    sqlite3_file* real;
    char* data;
    sqlite3_int64 start;  // file offset of data[0]
    sqlite3_int64 len;
    // The end of what this handle wrote since the log last restarted: a write below it goes
    // over an earlier frame and is not buffered.
    sqlite3_int64 written_end;
    sqlite3_int64 commit_page_at;  // offset of the page that completes a commit frame, or -1
};
static_assert(sizeof(WalFile) % 8 == 0, "the real file struct after it must stay 8-byte aligned");

sqlite3_file* real(sqlite3_file* f) {
    return reinterpret_cast<WalFile*>(f)->real;
}

// The unix VFS writes at most 128 KiB - 1 bytes per call (it masks the length), so the buffer
// goes out in pieces of 64 KiB: 16 pages of 4 KiB per system call instead of one half-page.
constexpr sqlite3_int64 write_piece = 64 * 1024;

int flush(WalFile* w) {
    int rc = SQLITE_OK;
    for (sqlite3_int64 done = 0; done < w->len && rc == SQLITE_OK; done += write_piece) {
        const sqlite3_int64 n = std::min(write_piece, w->len - done);
        rc = w->real->pMethods->xWrite(w->real, w->data + done, static_cast<int>(n), w->start + done);
    }
    w->len = 0;
    return rc;
}

int wal_close(sqlite3_file* f) {
    auto* w = reinterpret_cast<WalFile*>(f);
    const int flushed = flush(w);
    const int rc = w->real->pMethods->xClose(w->real);
    std::free(w->data);
    w->data = nullptr;
    return flushed != SQLITE_OK ? flushed : rc;
}

int wal_read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
    auto* w = reinterpret_cast<WalFile*>(f);
    if (const int rc = flush(w); rc != SQLITE_OK) return rc;
    return w->real->pMethods->xRead(w->real, out, amount, offset);
}

std::uint32_t big_endian_u32(const void* p) {
    const auto* b = static_cast<const unsigned char*>(p);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}

int wal_write(sqlite3_file* f, const void* in, int amount, sqlite3_int64 offset) {
    auto* w = reinterpret_cast<WalFile*>(f);
    if (w->len > 0 && offset != w->start + w->len)
        if (const int rc = flush(w); rc != SQLITE_OK) return rc;
    if (offset == 0 && amount == wal_header_bytes) w->written_end = 0;  // a new header: the log restarts
    if (offset < w->written_end || amount > write_piece) {
        // Over an earlier frame (or larger than the buffer): straight to the file.
        if (const int rc = flush(w); rc != SQLITE_OK) return rc;
        const int rc = w->real->pMethods->xWrite(w->real, in, amount, offset);
        if (offset + amount > w->written_end) w->written_end = offset + amount;
        return rc;
    }
    if (w->len + amount > buffer_bytes)
        if (const int rc = flush(w); rc != SQLITE_OK) return rc;
    if (w->len == 0) w->start = offset;
    std::memcpy(w->data + w->len, in, static_cast<std::size_t>(amount));
    w->len += amount;
    w->written_end = offset + amount;
    // A frame header with the database size after the commit set is a commit frame's; the
    // page written next completes it, and the commit must reach the file before SQLite
    // publishes it in the wal-index.
    if (amount == frame_header_bytes && offset >= wal_header_bytes && big_endian_u32(static_cast<const char*>(in) + 4))
        w->commit_page_at = offset + frame_header_bytes;
    else if (offset == w->commit_page_at) {
        w->commit_page_at = -1;
        return flush(w);
    }
    return SQLITE_OK;
}

int wal_truncate(sqlite3_file* f, sqlite3_int64 size) {
    auto* w = reinterpret_cast<WalFile*>(f);
    if (const int rc = flush(w); rc != SQLITE_OK) return rc;
    if (w->written_end > size) w->written_end = size;
    return w->real->pMethods->xTruncate(w->real, size);
}

int wal_sync(sqlite3_file* f, int flags) {
    auto* w = reinterpret_cast<WalFile*>(f);
    if (const int rc = flush(w); rc != SQLITE_OK) return rc;
    return w->real->pMethods->xSync(w->real, flags);
}

int wal_file_size(sqlite3_file* f, sqlite3_int64* size) {
    auto* w = reinterpret_cast<WalFile*>(f);
    if (const int rc = flush(w); rc != SQLITE_OK) return rc;
    return w->real->pMethods->xFileSize(w->real, size);
}

int wal_lock(sqlite3_file* f, int level) {
    return real(f)->pMethods->xLock(real(f), level);
}
int wal_unlock(sqlite3_file* f, int level) {
    return real(f)->pMethods->xUnlock(real(f), level);
}
int wal_check_reserved_lock(sqlite3_file* f, int* out) {
    return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int wal_file_control(sqlite3_file* f, int op, void* arg) {
    return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int wal_sector_size(sqlite3_file* f) {
    return real(f)->pMethods->xSectorSize(real(f));
}
int wal_device_characteristics(sqlite3_file* f) {
    return real(f)->pMethods->xDeviceCharacteristics(real(f));
}
int wal_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
    return real(f)->pMethods->xShmMap(real(f), region, size, extend, out);
}
int wal_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
    return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void wal_shm_barrier(sqlite3_file* f) {
    real(f)->pMethods->xShmBarrier(real(f));
}
int wal_shm_unmap(sqlite3_file* f, int delete_flag) {
    return real(f)->pMethods->xShmUnmap(real(f), delete_flag);
}
int wal_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
    auto* w = reinterpret_cast<WalFile*>(f);
    if (const int rc = flush(w); rc != SQLITE_OK) return rc;
    return w->real->pMethods->xFetch(w->real, offset, amount, out);
}
int wal_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
    return real(f)->pMethods->xUnfetch(real(f), offset, p);
}

const sqlite3_io_methods wal_methods = {
    3,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_lock,
    wal_unlock,
    wal_check_reserved_lock,
    wal_file_control,
    wal_sector_size,
    wal_device_characteristics,
    wal_shm_map,
    wal_shm_lock,
    wal_shm_barrier,
    wal_shm_unmap,
    wal_fetch,
    wal_unfetch,
};

int vfs_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    sqlite3_vfs* base = real_vfs();
    if (!(flags & SQLITE_OPEN_WAL)) {
        // Everything else is the default VFS's own file, in place.
        return base->xOpen(base, name, file, flags, out_flags);
    }
    auto* w = reinterpret_cast<WalFile*>(file);
    std::memset(w, 0, sizeof(WalFile));
    w->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + sizeof(WalFile));
    w->commit_page_at = -1;
    w->data = static_cast<char*>(std::malloc(buffer_bytes));
    if (!w->data) return SQLITE_NOMEM;
    const int rc = base->xOpen(base, name, w->real, flags, out_flags);
    if (rc != SQLITE_OK || !w->real->pMethods || w->real->pMethods->iVersion < 3) {
        if (rc == SQLITE_OK && w->real->pMethods) w->real->pMethods->xClose(w->real);
        std::free(w->data);
        w->base.pMethods = nullptr;
        return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
    }
    w->base.pMethods = &wal_methods;
    return SQLITE_OK;
}

// The rest of the VFS is the default one's, called with its own sqlite3_vfs.
int vfs_delete(sqlite3_vfs*, const char* name, int sync_dir) {
    return real_vfs()->xDelete(real_vfs(), name, sync_dir);
}
int vfs_access(sqlite3_vfs*, const char* name, int flags, int* out) {
    return real_vfs()->xAccess(real_vfs(), name, flags, out);
}
int vfs_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
    return real_vfs()->xFullPathname(real_vfs(), name, n, out);
}
void* vfs_dl_open(sqlite3_vfs*, const char* name) {
    return real_vfs()->xDlOpen(real_vfs(), name);
}
void vfs_dl_error(sqlite3_vfs*, int n, char* out) {
    real_vfs()->xDlError(real_vfs(), n, out);
}
void (*vfs_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
    return real_vfs()->xDlSym(real_vfs(), handle, symbol);
}
void vfs_dl_close(sqlite3_vfs*, void* handle) {
    real_vfs()->xDlClose(real_vfs(), handle);
}
int vfs_randomness(sqlite3_vfs*, int n, char* out) {
    return real_vfs()->xRandomness(real_vfs(), n, out);
}
int vfs_sleep(sqlite3_vfs*, int us) {
    return real_vfs()->xSleep(real_vfs(), us);
}
int vfs_current_time(sqlite3_vfs*, double* out) {
    return real_vfs()->xCurrentTime(real_vfs(), out);
}
int vfs_get_last_error(sqlite3_vfs*, int n, char* out) {
    return real_vfs()->xGetLastError ? real_vfs()->xGetLastError(real_vfs(), n, out) : 0;
}
int vfs_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
    return real_vfs()->xCurrentTimeInt64(real_vfs(), out);
}

sqlite3_vfs make_vfs() {
    sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
    if (!base || base->iVersion < 2) throw std::runtime_error("SQLite has no usable default VFS");
    base_vfs = base;
    sqlite3_vfs v{};
    v.iVersion = 2;
    v.szOsFile = static_cast<int>(sizeof(WalFile)) + base->szOsFile;
    v.mxPathname = base->mxPathname;
    v.zName = vfs_name;
    v.pAppData = base;
    v.xOpen = vfs_open;
    v.xDelete = vfs_delete;
    v.xAccess = vfs_access;
    v.xFullPathname = vfs_full_pathname;
    v.xDlOpen = vfs_dl_open;
    v.xDlError = vfs_dl_error;
    v.xDlSym = vfs_dl_sym;
    v.xDlClose = vfs_dl_close;
    v.xRandomness = vfs_randomness;
    v.xSleep = vfs_sleep;
    v.xCurrentTime = vfs_current_time;
    v.xGetLastError = vfs_get_last_error;
    v.xCurrentTimeInt64 = vfs_current_time_int64;
    return v;
}

}  // namespace

const char* buffered_wal_vfs() {
    static sqlite3_vfs vfs = make_vfs();
    static std::once_flag registered;
    std::call_once(registered, [] {
        if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) throw std::runtime_error("cannot register the SQLite VFS");
    });
    return vfs_name;
}

}  // namespace closeloop::server::sqlite
