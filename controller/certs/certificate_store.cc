#include "controller/certs/certificate_store.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <set>

#include "common/logging.h"
#include "controller/certs/certificate_import.h"
#include "controller/certs/openssl_util.h"

namespace siteplane::certs {
namespace {

namespace fs = std::filesystem;

constexpr mode_t kDirectoryMode = 0700;
constexpr mode_t kKeyMode = 0600;
constexpr mode_t kChainMode = 0644;
constexpr const char* kLinkSuffix = ".link";

Status errnoError(const std::string& what) {
  return Status::error(what + ": " + std::strerror(errno));
}

// Closes the descriptor on every path out.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error close() can return on some file systems (NFS, quota).
  bool close() {
    int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

// Creates `path` with `mode` from the start (O_EXCL: never reuses or follows an existing file, so
// a key is never briefly readable by others), writes `content` and fsyncs it.
Status writeNewFile(const fs::path& path, std::string_view content, mode_t mode) {
  FileDescriptor file(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (file.get() < 0) return errnoError("cannot create " + path.string());
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(file.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("cannot write " + path.string());
    done += static_cast<size_t>(n);
  }
  if (::fsync(file.get()) != 0) return errnoError("cannot fsync " + path.string());
  if (!file.close()) return errnoError("cannot close " + path.string());
  return Status::ok();
}

// Makes a directory's entries (creations, renames, removals) durable.
Status syncDirectory(const fs::path& dir) {
  FileDescriptor handle(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (handle.get() < 0) return errnoError("cannot open " + dir.string());
  if (::fsync(handle.get()) != 0) return errnoError("cannot fsync " + dir.string());
  return Status::ok();
}

// Creates `dir` with mode 0700 unless it exists, and makes its creation durable.
Status ensureDirectory(const fs::path& dir) {
  if (::mkdir(dir.c_str(), kDirectoryMode) == 0) return syncDirectory(dir.parent_path());
  if (errno != EEXIST) return errnoError("cannot create " + dir.string());
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0) return errnoError("cannot stat " + dir.string());
  if (!S_ISDIR(info.st_mode)) return Status::error(dir.string() + " exists and is not a directory");
  return Status::ok();
}

std::string randomSuffix() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // The name only has to be unused, and O_EXCL/mkdir catch a collision; fall back to the pid
    // and a counter rather than failing the write.
    static unsigned counter = 0;
    return std::to_string(::getpid()) + "-" + std::to_string(++counter);
  }
  return detail::toHex(bytes, sizeof bytes);
}

// The symlink's target name, "" when `link` does not exist.
Result<std::string> readLink(const fs::path& link) {
  char target[PATH_MAX];
  ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
  if (n < 0) {
    if (errno == ENOENT) return std::string();
    return errnoError("cannot read the link " + link.string());
  }
  return std::string(target, static_cast<size_t>(n));
}

// A file of one stored version; nullopt when it does not exist (the version was replaced and
// removed by a concurrent put).
Result<std::optional<std::string>> readVersionFile(const fs::path& path) {
  using ReadResult = Result<std::optional<std::string>>;
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (file.get() < 0) {
    if (errno == ENOENT) return ReadResult(std::nullopt);
    return errnoError("cannot open " + path.string());
  }
  std::string content;
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("cannot read " + path.string());
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  return ReadResult(std::optional<std::string>(std::move(content)));
}

// A stored pair. put() checked the chain's order and signatures, so reading trusts the order
// (re-verifying every link would cost a signature check per certificate at each start) and checks
// only what damage would break: that both parse and the key is the leaf's.
Result<CertificateBundle> parseStored(const std::string& chainPem, const std::string& keyPem) {
  auto chain = Certificate::chainFromPem(chainPem);
  if (!chain) return chain.status().withContext(CertificateStore::kChainFile);
  auto key = PrivateKey::fromPem(keyPem);
  if (!key) return key.status().withContext(CertificateStore::kKeyFile);
  if (!key->matches(chain->front())) {
    return Result<CertificateBundle>::error(std::string(CertificateStore::kKeyFile) +
                                            " does not match the leaf certificate in " +
                                            CertificateStore::kChainFile);
  }
  return CertificateBundle{std::move(chain).value(), std::move(key).value()};
}

bool isDnsLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(label.front()) || !alnum(label.back())) return false;
  return std::all_of(label.begin(), label.end(), [&](char c) { return alnum(c) || c == '-'; });
}

std::pair<std::string, std::string> splitKey(const std::string& key) {
  size_t slash = key.find('/');
  return {key.substr(0, slash), key.substr(slash + 1)};
}

}  // namespace

Status validateStoreKey(const std::string& key) {
  size_t slash = key.find('/');
  if (slash == std::string::npos || key.find('/', slash + 1) != std::string::npos) {
    return Status::error("certificate store key '" + key + "' must be namespace/name");
  }
  auto [space, name] = splitKey(key);
  if (!isDnsLabel(space) || !isDnsLabel(name)) {
    return Status::error("certificate store key '" + key +
                         "': namespace and name must be DNS-1123 labels");
  }
  return Status::ok();
}

Result<std::unique_ptr<CertificateStore>> CertificateStore::open(const fs::path& dir) {
  std::error_code error;
  if (dir.has_parent_path()) fs::create_directories(dir.parent_path(), error);
  if (error)
    return Status::error("cannot create " + dir.parent_path().string() + ": " + error.message());
  if (auto made = ensureDirectory(dir); !made) return made;
  // An existing store directory made looser by hand is tightened: it holds private keys.
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0) return errnoError("cannot stat " + dir.string());
  if ((info.st_mode & 07777) != kDirectoryMode && ::chmod(dir.c_str(), kDirectoryMode) != 0) {
    return errnoError("cannot restrict " + dir.string() + " to mode 0700");
  }
  std::unique_ptr<CertificateStore> store(new CertificateStore(dir));
  if (auto swept = store->sweep(); !swept) return swept;
  return store;
}

std::mutex& CertificateStore::writeMutexFor(const std::string& key) {
  return writeMutexes_[std::hash<std::string>{}(key) % kWriteMutexes];
}

Status CertificateStore::sweep() {
  std::error_code error;
  for (const auto& space : fs::directory_iterator(dir_, error)) {
    if (!space.is_directory() || space.path().filename().string().starts_with(".")) continue;
    std::set<std::string> live;
    std::vector<fs::path> hidden;
    for (const auto& entry : fs::directory_iterator(space.path(), error)) {
      std::string name = entry.path().filename().string();
      if (name.starts_with(".")) {
        hidden.push_back(entry.path());
      } else if (entry.is_symlink()) {
        auto target = readLink(entry.path());
        if (target && !target->empty()) live.insert(*target);
      }
    }
    if (error)
      return Status::error("cannot list " + space.path().string() + ": " + error.message());
    for (const auto& path : hidden) {
      if (live.count(path.filename().string())) continue;
      // An interrupted put: a version no link points to, or the link that was never renamed.
      fs::remove_all(path, error);
      if (error)
        return Status::error("cannot remove the leftover " + path.string() + ": " +
                             error.message());
      logger("controller.certs")->info("event=store_sweep removed={}", path.string());
    }
  }
  if (error) return Status::error("cannot list " + dir_.string() + ": " + error.message());
  return Status::ok();
}

Status CertificateStore::put(const std::string& key, const CertificateBundle& bundle) {
  if (auto valid = validateStoreKey(key); !valid) return valid;
  if (bundle.chain.empty()) return Status::error("certificate store " + key + ": empty chain");
  if (!bundle.key.matches(bundle.leaf())) {
    return Status::error("certificate store " + key +
                         ": the private key does not match the leaf certificate");
  }
  for (size_t i = 0; i + 1 < bundle.chain.size(); ++i) {
    if (!bundle.chain[i].isSignedBy(bundle.chain[i + 1])) {
      return Status::error("certificate store " + key + ": chain certificate " + std::to_string(i) +
                           " is not signed by certificate " + std::to_string(i + 1) +
                           "; the chain must be ordered leaf first");
    }
  }
  auto [space, name] = splitKey(key);
  const fs::path spaceDir = dir_ / space;
  std::lock_guard lock(writeMutexFor(key));
  if (auto made = ensureDirectory(spaceDir); !made) return made;

  const std::string versionName = "." + name + "." + randomSuffix();
  const fs::path versionDir = spaceDir / versionName;
  const fs::path tempLink = spaceDir / (versionName + kLinkSuffix);
  auto abandon = [&](Status status) {
    std::error_code ignored;
    fs::remove(tempLink, ignored);
    fs::remove_all(versionDir, ignored);
    return std::move(status).withContext("certificate store " + key);
  };

  if (::mkdir(versionDir.c_str(), kDirectoryMode) != 0)
    return abandon(errnoError("cannot create " + versionDir.string()));
  std::string keyPem = bundle.key.toPem();
  Status wroteKey = writeNewFile(versionDir / kKeyFile, keyPem, kKeyMode);
  OPENSSL_cleanse(keyPem.data(), keyPem.size());
  if (!wroteKey) return abandon(std::move(wroteKey));
  if (auto wrote = writeNewFile(versionDir / kChainFile, bundle.chainPem(), kChainMode); !wrote) {
    return abandon(std::move(wrote));
  }
  if (auto synced = syncDirectory(versionDir); !synced) return abandon(std::move(synced));
  // The version directory's own entry must be durable before any link to it can be: POSIX does
  // not order the two otherwise, and a durable link to a lost directory would lose both versions.
  if (auto synced = syncDirectory(spaceDir); !synced) return abandon(std::move(synced));

  auto previous = readLink(spaceDir / name);
  if (!previous) return abandon(previous.status());
  if (::symlink(versionName.c_str(), tempLink.c_str()) != 0) {
    return abandon(errnoError("cannot create " + tempLink.string()));
  }
  if (::rename(tempLink.c_str(), (spaceDir / name).c_str()) != 0) {
    return abandon(errnoError("cannot replace " + (spaceDir / name).string()));
  }
  // From here the new version is the store's content; what follows only makes it durable and
  // tidies up, and must not remove the new version on failure.
  if (auto synced = syncDirectory(spaceDir); !synced)
    return std::move(synced).withContext("certificate store " + key);
  if (!previous->empty() && *previous != versionName && !previous->starts_with("/") &&
      previous->find('/') == std::string::npos) {
    std::error_code error;
    fs::remove_all(spaceDir / *previous, error);
    if (error) {
      // Harmless: open() sweeps unreferenced versions.
      logger("controller.certs")
          ->warn("event=store_cleanup_failed key={} path={} error={}", key,
                 (spaceDir / *previous).string(), error.message());
    }
  }
  return Status::ok();
}

Result<std::optional<CertificateBundle>> CertificateStore::get(const std::string& key) const {
  using GetResult = Result<std::optional<CertificateBundle>>;
  if (auto valid = validateStoreKey(key); !valid) return valid;
  auto [space, name] = splitKey(key);
  const fs::path spaceDir = dir_ / space;
  // The link is resolved once and both files read from that one version, so a concurrent put can
  // never pair the new key with the old chain. A put that completes meanwhile may delete the
  // version being read; then the files vanish and the read starts over from the new link.
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto target = readLink(spaceDir / name);
    if (!target) return target.status();
    if (target->empty()) return GetResult(std::nullopt);
    const fs::path versionDir = spaceDir / *target;
    auto chainPem = readVersionFile(versionDir / kChainFile);
    if (!chainPem) return chainPem.status().withContext("certificate store " + key);
    auto keyPem = readVersionFile(versionDir / kKeyFile);
    if (!keyPem) return keyPem.status().withContext("certificate store " + key);
    if (!*chainPem || !*keyPem) {
      // Replaced while reading, unless the link still points here: then the version was removed
      // by something other than this store.
      auto now = readLink(spaceDir / name);
      if (now && *now == *target) {
        return Status::error("certificate store " + key + ": " + versionDir.string() + " lacks " +
                             (*chainPem ? kKeyFile : kChainFile));
      }
      continue;
    }
    auto bundle = parseStored(**chainPem, **keyPem);
    OPENSSL_cleanse((*keyPem)->data(), (*keyPem)->size());
    if (!bundle)
      return bundle.status().withContext("certificate store " + key + " (" + versionDir.string() +
                                         ")");
    return GetResult(std::optional<CertificateBundle>(std::move(bundle).value()));
  }
  return Status::error("certificate store " + key + ": replaced " + std::to_string(kAttempts) +
                       " times while being read");
}

Status CertificateStore::remove(const std::string& key) {
  if (auto valid = validateStoreKey(key); !valid) return valid;
  auto [space, name] = splitKey(key);
  const fs::path spaceDir = dir_ / space;
  std::lock_guard lock(writeMutexFor(key));
  auto target = readLink(spaceDir / name);
  if (!target) return target.status();
  if (target->empty()) return Status::ok();
  if (::unlink((spaceDir / name).c_str()) != 0)
    return errnoError("cannot remove " + (spaceDir / name).string());
  if (auto synced = syncDirectory(spaceDir); !synced) return synced;
  if (!target->starts_with("/") && target->find('/') == std::string::npos) {
    std::error_code error;
    fs::remove_all(spaceDir / *target, error);
    if (error) {
      logger("controller.certs")
          ->warn("event=store_cleanup_failed key={} path={} error={}", key,
                 (spaceDir / *target).string(), error.message());
    }
  }
  return Status::ok();
}

Result<std::vector<std::string>> CertificateStore::list() const {
  std::vector<std::string> keys;
  std::error_code error;
  for (const auto& space : fs::directory_iterator(dir_, error)) {
    std::string spaceName = space.path().filename().string();
    if (!space.is_directory() || spaceName.starts_with(".")) continue;
    for (const auto& entry : fs::directory_iterator(space.path(), error)) {
      std::string name = entry.path().filename().string();
      if (name.starts_with(".") || !entry.is_symlink()) continue;
      keys.push_back(spaceName + "/" + name);
    }
    if (error)
      return Status::error("cannot list " + space.path().string() + ": " + error.message());
  }
  if (error) return Status::error("cannot list " + dir_.string() + ": " + error.message());
  std::sort(keys.begin(), keys.end());
  return keys;
}

fs::path CertificateStore::chainPath(const std::string& key) const {
  auto [space, name] = splitKey(key);
  return dir_ / space / name / kChainFile;
}

fs::path CertificateStore::keyPath(const std::string& key) const {
  auto [space, name] = splitKey(key);
  return dir_ / space / name / kKeyFile;
}

}  // namespace siteplane::certs
