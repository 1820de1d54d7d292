// SPDX-License-Identifier: Apache-2.0
// File access used by the app layer and by kbgen (which runs before the KB is built in).
#include "refract/app/app.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace refract::app {

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::error_code status_error;
  if (std::filesystem::is_directory(path, status_error)) {
    return Fail(ErrorCode::Io, fmt::format("cannot read {}: it is a directory, not a file", path.string()), path.string());
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) return Fail(ErrorCode::Io, fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)), path.string());
  std::ostringstream buffer;
  buffer << stream.rdbuf();
  if (stream.bad()) return Fail(ErrorCode::Io, fmt::format("error while reading {}", path.string()), path.string());
  return buffer.str();
}

Result<std::vector<KbFile>> ReadKbDirectory(const std::filesystem::path& directory) {
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) {
    return Fail(ErrorCode::Io, fmt::format("knowledge base directory {} does not exist", directory.string()), directory.string());
  }
  std::vector<KbFile> files;
  for (auto it = std::filesystem::recursive_directory_iterator(directory, error); !error && it != std::filesystem::recursive_directory_iterator();
       it.increment(error)) {
    if (!it->is_regular_file()) continue;
    const std::string relative = std::filesystem::relative(it->path(), directory).generic_string();
    const std::string name = it->path().filename().string();
    const bool wanted = it->path().extension() == ".json" || (name.rfind("DEVIATIONS", 0) == 0 && it->path().extension() == ".md");
    if (!wanted) continue;
    auto content = ReadFile(it->path());
    if (!content) return tl::unexpected(content.error());
    files.push_back(KbFile{relative, std::move(*content)});
  }
  if (error) return Fail(ErrorCode::Io, fmt::format("cannot list {}: {}", directory.string(), error.message()), directory.string());
  std::sort(files.begin(), files.end(), [](const KbFile& left, const KbFile& right) { return left.path < right.path; });
  return files;
}

Result<bool> WriteFileAtomically(const std::filesystem::path& path, const std::string& content) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream stream(temporary, std::ios::binary | std::ios::trunc);
    if (!stream) return Fail(ErrorCode::Io, fmt::format("cannot write {}: {}", temporary.string(), std::strerror(errno)), path.string());
    stream << content;
    stream.flush();
    if (!stream) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      return Fail(ErrorCode::Io, fmt::format("cannot write {}", temporary.string()), path.string());
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) return Fail(ErrorCode::Io, fmt::format("cannot move {} into place: {}", path.string(), error.message()), path.string());
  return true;
}

}  // namespace refract::app
