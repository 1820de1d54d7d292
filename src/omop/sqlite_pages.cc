// SPDX-License-Identifier: Apache-2.0
// A read-only walk over the leaf pages of one SQLite rowid table, straight from the database file
// (https://www.sqlite.org/fileformat2.html), for the sequential drug_exposure scan. Anything this
// walk does not handle (overflow pages, WAL content, another text encoding, unexpected storage
// classes, a malformed page) is reported as Unsupported, and the caller reads through SQLite.
#include "internal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

constexpr std::size_t kIntBytes[] = {0, 1, 2, 3, 4, 6, 8};

constexpr std::uint8_t kInteriorIndexPage = 0x02;
constexpr std::uint8_t kInteriorTablePage = 0x05;
constexpr std::uint8_t kLeafIndexPage = 0x0a;
constexpr std::uint8_t kLeafTablePage = 0x0d;
constexpr int kMaxDepth = 32;

}  // namespace

PageFile::~PageFile() {
  if (base_ != nullptr) munmap(const_cast<std::uint8_t*>(base_), size_);
}

std::unique_ptr<PageFile> PageFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat info {};
  void* mapped = MAP_FAILED;
  if (fstat(fd, &info) == 0 && info.st_size >= 512) {
    mapped = mmap(nullptr, static_cast<std::size_t>(info.st_size), PROT_READ, MAP_SHARED, fd, 0);
  }
  ::close(fd);
  if (mapped == MAP_FAILED) return nullptr;
  auto file = std::unique_ptr<PageFile>(new PageFile());
  file->base_ = static_cast<const std::uint8_t*>(mapped);
  file->size_ = static_cast<std::size_t>(info.st_size);
  const std::uint8_t* header = file->base_;
  if (std::memcmp(header, "SQLite format 3", 16) != 0) return nullptr;
  const std::uint32_t page_size = Be16(header + 16) == 1 ? 65536 : Be16(header + 16);
  if (page_size < 512 || (page_size & (page_size - 1)) != 0) return nullptr;
  if (Be32(header + 56) != 1) return nullptr;  // text must be UTF-8
  file->page_size_ = page_size;
  file->usable_size_ = page_size - header[20];
  file->page_count_ = file->size_ / page_size;
  file->wal_ = header[18] == 2 || header[19] == 2;
  return file;
}

const std::uint8_t* PageFile::Page(std::uint32_t number) const {
  if (number == 0 || number > page_count_) return nullptr;
  return base_ + static_cast<std::size_t>(number - 1) * page_size_;
}

PageScan PageFile::Scan(std::uint32_t root_page, std::int64_t first_rowid, int columns, const RecordFn& on_record) const {
  struct Level {
    const std::uint8_t* page;
    std::uint32_t cells;
    std::uint32_t next_cell;  // the child to descend into next (cells = the right-most pointer)
  };
  Level path[kMaxDepth];
  int depth = 0;
  const auto header_of = [](std::uint32_t number, const std::uint8_t* page) { return page + (number == 1 ? 100 : 0); };
  const auto cell_at = [&](const std::uint8_t* page, const std::uint8_t* header, std::uint32_t index, std::uint32_t header_size) -> const std::uint8_t* {
    const std::uint32_t offset = Be16(header + header_size + 2 * index);
    return offset < page_size_ ? page + offset : nullptr;
  };
  std::vector<RecordValue> values(static_cast<std::size_t>(columns));
  std::uint32_t number = root_page;
  bool seeking = true;
  while (true) {
    const std::uint8_t* page = Page(number);
    if (page == nullptr) return PageScan::Unsupported;
    const std::uint8_t* header = header_of(number, page);
    const std::uint32_t cells = Be16(header + 3);
    if (header[0] == kInteriorTablePage) {
      if (depth == kMaxDepth) return PageScan::Unsupported;
      std::uint32_t child_idx = 0;
      if (seeking) {
        // The first child whose largest key is >= first_rowid (keys ascend along the page).
        while (child_idx < cells) {
          const std::uint8_t* cell = cell_at(page, header, child_idx, 12);
          if (cell == nullptr) return PageScan::Unsupported;
          const std::uint8_t* at = cell + 4;
          std::uint64_t key = 0;
          if (!Varint(at, page + page_size_, key)) return PageScan::Unsupported;
          if (static_cast<std::int64_t>(key) >= first_rowid) break;
          ++child_idx;
        }
      }
      path[depth++] = Level{page, cells, child_idx};
    } else if (header[0] == kLeafTablePage) {
      for (std::uint32_t cell_idx = 0; cell_idx < cells; ++cell_idx) {
        const std::uint8_t* at = cell_at(page, header, cell_idx, 8);
        if (at == nullptr) return PageScan::Unsupported;
        const std::uint8_t* page_end = page + usable_size_;
        std::uint64_t payload_size = 0;
        std::uint64_t rowid_bits = 0;
        if (!Varint(at, page_end, payload_size) || !Varint(at, page_end, rowid_bits)) return PageScan::Unsupported;
        const auto rowid = static_cast<std::int64_t>(rowid_bits);
        if (seeking && rowid < first_rowid) continue;
        seeking = false;
        // Rows that spill onto overflow pages are left to SQLite.
        if (payload_size > usable_size_ - 35 || at + payload_size > page_end) return PageScan::Unsupported;
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
            value.integer = BigEndianInteger(body, length);
          } else if (serial == 7) {
            length = 8;
            if (body + length > record_end) return PageScan::Unsupported;
            std::uint64_t bits = 0;
            for (std::size_t byte_idx = 0; byte_idx < 8; ++byte_idx) bits = bits << 8 | body[byte_idx];
            value.kind = RecordValue::Kind::Real;
            std::memcpy(&value.real, &bits, sizeof bits);
          } else if (serial == 8 || serial == 9) {
            value.kind = RecordValue::Kind::Integer;
            value.integer = serial == 9 ? 1 : 0;
          } else if (serial >= 12) {
            length = static_cast<std::size_t>((serial - 12) / 2);
            if (body + length > record_end) return PageScan::Unsupported;
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
    // The next page: down the next child of the deepest interior page that has one left.
    while (depth > 0 && path[depth - 1].next_cell > path[depth - 1].cells) --depth;
    if (depth == 0) return PageScan::Done;
    Level& level = path[depth - 1];
    const std::uint8_t* level_header = level.page == base_ ? level.page + 100 : level.page;
    if (level.next_cell == level.cells) {
      number = Be32(level_header + 8);
    } else {
      const std::uint8_t* cell = cell_at(level.page, level_header, level.next_cell, 12);
      if (cell == nullptr) return PageScan::Unsupported;
      number = Be32(cell);
    }
    ++level.next_cell;
  }
}

IndexScan PageFile::ScanIndex(std::uint32_t root_page, std::int64_t first_key, const IndexEntryFn& on_entry) const {
  return WalkIndex(root_page, 0, first_key, on_entry);
}

IndexScan PageFile::WalkIndex(std::uint32_t number, int depth, std::int64_t first_key, const IndexEntryFn& on_entry) const {
  const std::uint8_t* page = Page(number);
  if (page == nullptr || depth == kMaxDepth) return IndexScan::Unsupported;
  const std::uint8_t* header = page + (number == 1 ? 100 : 0);
  const bool interior = header[0] == kInteriorIndexPage;
  if (!interior && header[0] != kLeafIndexPage) return IndexScan::Unsupported;
  const std::uint32_t header_size = interior ? 12 : 8;
  const std::uint32_t cells = Be16(header + 3);
  const std::uint8_t* page_end = page + usable_size_;
  // Payloads larger than this spill onto overflow pages (left to SQLite).
  const std::uint32_t max_local = (usable_size_ - 12) * 64 / 255 - 23;
  for (std::uint32_t cell_idx = 0; cell_idx < cells; ++cell_idx) {
    const std::uint32_t offset = Be16(header + header_size + 2 * cell_idx);
    if (offset >= page_size_) return IndexScan::Unsupported;
    const std::uint8_t* at = page + offset + (interior ? 4 : 0);
    std::uint64_t payload_size = 0;
    if (!Varint(at, page_end, payload_size) || payload_size > max_local || at + payload_size > page_end) return IndexScan::Unsupported;
    // The record: the key columns, then the rowid; the first key column must be an integer.
    const std::uint8_t* record_end = at + payload_size;
    const std::uint8_t* types = at;
    std::uint64_t record_header_size = 0;
    if (!Varint(types, record_end, record_header_size) || record_header_size > payload_size) return IndexScan::Unsupported;
    const std::uint8_t* types_end = at + record_header_size;
    const std::uint8_t* body = types_end;
    std::int64_t key = 0;
    std::int64_t rowid = 0;
    for (int field_idx = 0; types < types_end; ++field_idx) {
      std::uint64_t serial = 0;
      if (!Varint(types, types_end, serial)) return IndexScan::Unsupported;
      std::int64_t value = 0;
      std::size_t length = 0;
      if (serial >= 1 && serial <= 6) {
        length = kIntBytes[serial];
        if (body + length > record_end) return IndexScan::Unsupported;
        value = BigEndianInteger(body, length);
      } else if (serial == 8 || serial == 9) {
        value = serial == 9 ? 1 : 0;
      } else if (field_idx == 0 || types == types_end) {
        return IndexScan::Unsupported;  // a key or rowid that is not an integer
      } else {
        length = serial == 7 ? 8 : serial >= 12 ? static_cast<std::size_t>((serial - 12) / 2) : 0;
      }
      if (field_idx == 0) key = value;
      rowid = value;  // the last field is the rowid
      body += length;
    }
    if (interior) {
      // Every entry of the left child sorts before this cell's entry.
      if (key < first_key) continue;
      const IndexScan below = WalkIndex(Be32(page + offset), depth + 1, first_key, on_entry);
      if (below != IndexScan::Done) return below;
    }
    if (key < first_key) continue;
    if (!on_entry(key, rowid)) return IndexScan::Stopped;
  }
  if (!interior) return IndexScan::Done;
  return WalkIndex(Be32(header + 8), depth + 1, first_key, on_entry);
}

}  // namespace refract::omop::internal
