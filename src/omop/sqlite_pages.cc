// SPDX-License-Identifier: Apache-2.0
// A read-only walk over the leaf pages of one SQLite rowid table, straight from the database file
// (https://www.sqlite.org/fileformat2.html), for the sequential drug_exposure scan. Anything this
// walk does not handle (overflow pages, WAL content, another text encoding, unexpected storage
// classes, a malformed page) is reported as Unsupported, and the caller reads through SQLite.
#include "internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

namespace refract::omop::internal {
namespace {

std::uint32_t Be16(const std::uint8_t* bytes) { return static_cast<std::uint32_t>(bytes[0]) << 8 | bytes[1]; }
std::uint32_t Be32(const std::uint8_t* bytes) {
  return static_cast<std::uint32_t>(bytes[0]) << 24 | static_cast<std::uint32_t>(bytes[1]) << 16 | static_cast<std::uint32_t>(bytes[2]) << 8 |
         bytes[3];
}

// A SQLite varint at `at` (at most 9 bytes, not past `end`); false when it runs past the end.
bool LongVarint(const std::uint8_t*& at, const std::uint8_t* end, std::uint64_t& value) {
  value = 0;
  for (int byte_idx = 0; byte_idx < 9; ++byte_idx) {
    if (at >= end) return false;
    const std::uint8_t byte = *at++;
    if (byte_idx == 8) {
      value = value << 8 | byte;
      return true;
    }
    value = value << 7 | (byte & 0x7f);
    if ((byte & 0x80) == 0) return true;
  }
  return true;
}

// The same, with the one-byte case (almost every varint of these pages) inline.
inline bool Varint(const std::uint8_t*& at, const std::uint8_t* end, std::uint64_t& value) {
  if (at < end && *at < 0x80) {
    value = *at++;
    return true;
  }
  return LongVarint(at, end, value);
}

// A big-endian two's-complement integer of `length` bytes (SQLite serial types 1-6).
inline std::int64_t BigEndianInteger(const std::uint8_t* body, std::size_t length) {
  std::uint64_t bits = body[0] & 0x80 ? ~std::uint64_t{0} : 0;
  for (std::size_t byte_idx = 0; byte_idx < length; ++byte_idx) bits = bits << 8 | body[byte_idx];
  return static_cast<std::int64_t>(bits);
}

// The same from a buffer with at least 8 readable bytes at `body` (the page window has slack after
// its last page): one load, a byte swap and an arithmetic shift.
inline std::int64_t BigEndianIntegerPadded(const std::uint8_t* body, std::size_t length) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, body, sizeof bits);
  if constexpr (std::endian::native == std::endian::little) bits = __builtin_bswap64(bits);
  return static_cast<std::int64_t>(bits) >> (64 - 8 * length);
}

constexpr std::size_t kIntBytes[] = {0, 1, 2, 3, 4, 6, 8};

constexpr std::uint8_t kInteriorIndexPage = 0x02;
constexpr std::uint8_t kInteriorTablePage = 0x05;
constexpr std::uint8_t kLeafIndexPage = 0x0a;
constexpr std::uint8_t kLeafTablePage = 0x0d;
constexpr int kMaxDepth = 32;

// The first column of an index record: below the range (NULL, or a number below first_key), in it,
// or above it (a number above last_key, text or a blob: SQLite sorts them after numbers).
enum class KeyPlace : std::uint8_t { Below, In, Above, Unsupported };
KeyPlace PlaceOfKey(const std::uint8_t* at, const std::uint8_t* end, std::int64_t first_key, std::int64_t last_key) {
  const std::uint8_t* types = at;
  std::uint64_t header_size = 0;
  std::uint64_t serial = 0;
  if (!Varint(types, end, header_size) || header_size > static_cast<std::uint64_t>(end - at)) return KeyPlace::Unsupported;
  const std::uint8_t* body = at + header_size;
  if (!Varint(types, body, serial)) return KeyPlace::Unsupported;
  if (serial == 0) return KeyPlace::Below;
  if (serial >= 12) return KeyPlace::Above;
  if (serial == 10 || serial == 11) return KeyPlace::Unsupported;
  if (serial == 7) {
    if (body + 8 > end) return KeyPlace::Unsupported;
    std::uint64_t bits = 0;
    for (std::size_t byte_idx = 0; byte_idx < 8; ++byte_idx) bits = bits << 8 | body[byte_idx];
    double real = 0;
    std::memcpy(&real, &bits, sizeof bits);
    if (real != real) return KeyPlace::Below;  // NaN is stored as NULL; never expected here
    return real < static_cast<double>(first_key) ? KeyPlace::Below : real > static_cast<double>(last_key) ? KeyPlace::Above : KeyPlace::In;
  }
  std::int64_t key = 0;
  if (serial == 8 || serial == 9) {
    key = serial == 9 ? 1 : 0;
  } else {
    if (body + kIntBytes[serial] > end) return KeyPlace::Unsupported;
    key = BigEndianInteger(body, kIntBytes[serial]);
  }
  return key < first_key ? KeyPlace::Below : key > last_key ? KeyPlace::Above : KeyPlace::In;
}

// Reads `size` bytes at `offset` whole; false on an error or the end of the file.
bool ReadAll(int fd, std::uint8_t* into, std::size_t size, std::size_t offset) {
  while (size > 0) {
    const ssize_t got = ::pread(fd, into, size, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    into += got;
    size -= static_cast<std::size_t>(got);
    offset += static_cast<std::size_t>(got);
  }
  return true;
}

constexpr std::size_t kWindowBytes = 128 * 1024;
constexpr std::size_t kWindowSlack = 8;  // readable bytes after the last page (BigEndianIntegerPadded)

}  // namespace

PageFile::~PageFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<PageFile> PageFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  auto file = std::unique_ptr<PageFile>(new PageFile());
  file->fd_ = fd;
  struct stat info {};
  std::uint8_t header[100];
  if (fstat(fd, &info) != 0 || info.st_size < 512 || !ReadAll(fd, header, sizeof header, 0)) return nullptr;
  if (std::memcmp(header, "SQLite format 3", 16) != 0) return nullptr;
  const std::uint32_t page_size = Be16(header + 16) == 1 ? 65536 : Be16(header + 16);
  if (page_size < 512 || (page_size & (page_size - 1)) != 0 || header[20] > page_size - 480) return nullptr;
  if (Be32(header + 56) != 1) return nullptr;  // text must be UTF-8
  file->page_size_ = page_size;
  file->usable_size_ = page_size - header[20];
  file->page_count_ = static_cast<std::size_t>(info.st_size) / page_size;
  file->wal_ = header[18] == 2 || header[19] == 2;
  file->window_pages_most_ = static_cast<std::uint32_t>(std::max<std::size_t>(1, kWindowBytes / page_size));
  file->window_.resize(static_cast<std::size_t>(file->window_pages_most_) * page_size + kWindowSlack);
  file->levels_.resize(kMaxDepth);
  return file;
}

const std::uint8_t* PageFile::Fetch(std::uint32_t number, std::uint32_t run) {
  if (number == 0 || number > page_count_) return nullptr;
  if (number >= window_first_ && number - window_first_ < window_pages_) return window_.data() + static_cast<std::size_t>(number - window_first_) * page_size_;
  const std::size_t most = std::min<std::size_t>(window_pages_most_, page_count_ - number + 1);
  const std::size_t pages = std::clamp<std::size_t>(run, 1, most);
  window_pages_ = 0;
  if (!ReadAll(fd_, window_.data(), pages * page_size_, static_cast<std::size_t>(number - 1) * page_size_)) return nullptr;
  window_first_ = number;
  window_pages_ = static_cast<std::uint32_t>(pages);
  return window_.data();
}

const std::uint8_t* PageFile::Keep(const std::uint8_t* page, int depth) {
  std::vector<std::uint8_t>& copy = levels_[static_cast<std::size_t>(depth)];
  copy.assign(page, page + page_size_);
  return copy.data();
}

namespace {

// An interior page (either kind) as read: its cells and the child page each leads to.
struct Interior {
  const std::uint8_t* page = nullptr;
  const std::uint8_t* header = nullptr;
  std::uint32_t cells = 0;
  std::uint32_t page_size = 0;
  // Child `index` (cells: the right-most pointer); 0 when the cell is out of the page.
  [[nodiscard]] std::uint32_t Child(std::uint32_t index) const {
    if (index == cells) return Be32(header + 8);
    const std::uint32_t offset = Be16(header + 12 + 2 * index);
    return offset + 4 <= page_size ? Be32(page + offset) : 0;
  }
  // How many children from `index` on have consecutive page numbers (at most `most`).
  [[nodiscard]] std::uint32_t Run(std::uint32_t index, std::uint32_t most) const {
    const std::uint32_t first = Child(index);
    std::uint32_t run = 1;
    while (run < most && index + run <= cells && Child(index + run) == first + run) ++run;
    return run;
  }
};

}  // namespace

PageScan PageFile::Scan(std::uint32_t root_page, std::int64_t first_rowid, int columns, const RecordFn& on_record) {
  struct Level {
    Interior page;
    std::uint32_t next_cell;  // the child to descend into next (cells = the right-most pointer)
  };
  Level path[kMaxDepth];
  int depth = 0;
  const auto most_run = window_pages_most_;
  std::vector<RecordValue> values(static_cast<std::size_t>(columns));
  std::uint32_t number = root_page;
  std::uint32_t run = 1;
  bool seeking = true;
  while (true) {
    const std::uint8_t* page = Fetch(number, run);
    if (page == nullptr) return PageScan::Unsupported;
    const std::uint32_t header_offset = number == 1 ? 100 : 0;
    const std::uint8_t* header = page + header_offset;
    const std::uint32_t cells = Be16(header + 3);
    if (header[0] == kInteriorTablePage) {
      if (depth == kMaxDepth || header_offset + 12 + 2 * cells > page_size_) return PageScan::Unsupported;
      page = Keep(page, depth);
      const Interior interior{page, page + header_offset, cells, page_size_};
      std::uint32_t child_idx = 0;
      if (seeking) {
        // The first child whose largest key is >= first_rowid (keys ascend along the page).
        while (child_idx < cells) {
          const std::uint32_t offset = Be16(interior.header + 12 + 2 * child_idx);
          if (offset + 4 >= page_size_) return PageScan::Unsupported;
          const std::uint8_t* at = page + offset + 4;
          std::uint64_t key = 0;
          if (!Varint(at, page + page_size_, key)) return PageScan::Unsupported;
          if (static_cast<std::int64_t>(key) >= first_rowid) break;
          ++child_idx;
        }
      }
      path[depth++] = Level{interior, child_idx};
    } else if (header[0] == kLeafTablePage) {
      if (header_offset + 8 + 2 * cells > page_size_) return PageScan::Unsupported;
      const std::uint8_t* page_end = page + usable_size_;
      for (std::uint32_t cell_idx = 0; cell_idx < cells; ++cell_idx) {
        const std::uint32_t offset = Be16(header + 8 + 2 * cell_idx);
        if (offset >= page_size_) return PageScan::Unsupported;
        const std::uint8_t* at = page + offset;
        std::uint64_t payload_size = 0;
        std::uint64_t rowid_bits = 0;
        if (!Varint(at, page_end, payload_size) || !Varint(at, page_end, rowid_bits)) return PageScan::Unsupported;
        const auto rowid = static_cast<std::int64_t>(rowid_bits);
        if (seeking && rowid < first_rowid) continue;
        seeking = false;
        // Rows that spill onto overflow pages are left to SQLite.
        if (payload_size > usable_size_ - 35 || payload_size > static_cast<std::uint64_t>(page_end - at)) return PageScan::Unsupported;
        const std::uint8_t* record_end = at + payload_size;
        std::uint64_t header_size = 0;
        const std::uint8_t* types = at;
        if (!Varint(types, record_end, header_size) || header_size > payload_size) return PageScan::Unsupported;
        const std::uint8_t* types_end = at + header_size;
        const std::uint8_t* body = types_end;
        for (int column = 0; column < columns; ++column) {
          RecordValue& value = values[static_cast<std::size_t>(column)];
          if (types >= types_end) return PageScan::Unsupported;  // a short record: the column's default
          std::uint64_t serial = 0;
          if (!Varint(types, types_end, serial)) return PageScan::Unsupported;
          std::size_t length = 0;
          if (serial == 0) {
            value.kind = RecordValue::Kind::Null;
          } else if (serial <= 6) {
            length = kIntBytes[serial];
            if (body + length > record_end) return PageScan::Unsupported;
            value.kind = RecordValue::Kind::Integer;
            value.integer = BigEndianIntegerPadded(body, length);
          } else if (serial == 7) {
            length = 8;
            if (body + length > record_end) return PageScan::Unsupported;
            const std::int64_t bits = BigEndianIntegerPadded(body, 8);
            value.kind = RecordValue::Kind::Real;
            std::memcpy(&value.real, &bits, sizeof bits);
          } else if (serial == 8 || serial == 9) {
            value.kind = RecordValue::Kind::Integer;
            value.integer = serial == 9 ? 1 : 0;
          } else if (serial >= 12) {
            length = static_cast<std::size_t>((serial - 12) / 2);
            if (length > static_cast<std::size_t>(record_end - body)) return PageScan::Unsupported;
            value.kind = serial % 2 == 1 ? RecordValue::Kind::Text : RecordValue::Kind::Blob;
            value.text = std::string_view(reinterpret_cast<const char*>(body), length);
          } else {
            return PageScan::Unsupported;  // serial types 10 and 11 are reserved
          }
          body += length;
        }
        switch (on_record(rowid, values)) {
          case RecordStep::Next: break;
          case RecordStep::Stop: return PageScan::Done;
          case RecordStep::Unsupported: return PageScan::Unsupported;
        }
      }
      seeking = false;  // every later row has a larger rowid
    } else {
      return PageScan::Unsupported;
    }
    // The next page: down the next child of the deepest interior page that has one left, read with
    // the run of consecutive pages that follow it among its siblings.
    while (depth > 0 && path[depth - 1].next_cell > path[depth - 1].page.cells) --depth;
    if (depth == 0) return PageScan::Done;
    Level& level = path[depth - 1];
    number = level.page.Child(level.next_cell);
    const bool in_window = number >= window_first_ && number - window_first_ < window_pages_;
    run = in_window ? 1 : level.page.Run(level.next_cell, most_run);
    ++level.next_cell;
  }
}

IndexScan PageFile::CountIndex(std::uint32_t root_page, std::int64_t first_key, std::int64_t last_key, std::int64_t& count) {
  count = 0;
  const IndexScan scanned = CountBelow(root_page, 1, 0, first_key, last_key, count);
  return scanned == IndexScan::Unsupported ? IndexScan::Unsupported : IndexScan::Done;
}

IndexScan PageFile::CountBelow(std::uint32_t number, std::uint32_t run, int depth, std::int64_t first_key, std::int64_t last_key,
                               std::int64_t& count) {
  if (depth == kMaxDepth) return IndexScan::Unsupported;
  const std::uint8_t* page = Fetch(number, run);
  if (page == nullptr) return IndexScan::Unsupported;
  const std::uint32_t header_offset = number == 1 ? 100 : 0;
  const std::uint8_t* header = page + header_offset;
  const bool interior = header[0] == kInteriorIndexPage;
  if (!interior && header[0] != kLeafIndexPage) return IndexScan::Unsupported;
  const std::uint32_t header_size = interior ? 12 : 8;
  const std::uint32_t cells = Be16(header + 3);
  if (header_offset + header_size + 2 * cells > page_size_) return IndexScan::Unsupported;
  if (interior) {
    page = Keep(page, depth);
    header = page + header_offset;
  }
  const std::uint8_t* page_end = page + usable_size_;
  // Payloads larger than this spill onto overflow pages (left to SQLite).
  const std::uint32_t max_local = (usable_size_ - 12) * 64 / 255 - 23;
  const auto place_of = [&](std::uint32_t cell_idx) {
    const std::uint32_t offset = Be16(header + header_size + 2 * cell_idx);
    if (offset + (interior ? 4 : 0) >= page_size_) return KeyPlace::Unsupported;
    const std::uint8_t* at = page + offset + (interior ? 4 : 0);
    std::uint64_t payload_size = 0;
    if (!Varint(at, page_end, payload_size) || payload_size > max_local || payload_size > static_cast<std::uint64_t>(page_end - at)) {
      return KeyPlace::Unsupported;
    }
    return PlaceOfKey(at, at + payload_size, first_key, last_key);
  };
  if (!interior) {
    if (cells == 0) return IndexScan::Done;
    // Keys ascend along the page: when the first and the last lie in the range, every cell does.
    const KeyPlace first = place_of(0);
    const KeyPlace last = place_of(cells - 1);
    if (first == KeyPlace::Unsupported || last == KeyPlace::Unsupported) return IndexScan::Unsupported;
    if (first == KeyPlace::In && last == KeyPlace::In) {
      count += cells;
      return IndexScan::Done;
    }
    for (std::uint32_t cell_idx = 0; cell_idx < cells; ++cell_idx) {
      const KeyPlace place = place_of(cell_idx);
      if (place == KeyPlace::Unsupported) return IndexScan::Unsupported;
      if (place == KeyPlace::Above) return IndexScan::Stopped;
      if (place == KeyPlace::In) ++count;
    }
    return IndexScan::Done;
  }
  const Interior links{page, header, cells, page_size_};
  const auto most_run = window_pages_most_;
  const auto descend = [&](std::uint32_t child_idx) {
    const std::uint32_t child = links.Child(child_idx);
    const bool in_window = child >= window_first_ && child - window_first_ < window_pages_;
    return CountBelow(child, in_window ? 1 : links.Run(child_idx, most_run), depth + 1, first_key, last_key, count);
  };
  for (std::uint32_t cell_idx = 0; cell_idx < cells; ++cell_idx) {
    const KeyPlace place = place_of(cell_idx);
    if (place == KeyPlace::Unsupported) return IndexScan::Unsupported;
    // Every entry of the left child sorts before this cell's entry.
    if (place == KeyPlace::Below) continue;
    const IndexScan below = descend(cell_idx);
    if (below != IndexScan::Done) return below;
    if (place == KeyPlace::Above) return IndexScan::Stopped;
    ++count;
  }
  return descend(cells);
}

}  // namespace refract::omop::internal
