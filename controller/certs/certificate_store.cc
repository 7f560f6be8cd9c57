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
#include <map>
#include <set>

#include "common/durable_file.h"
#include "common/logging.h"
#include "common/names.h"
#include "common/unique_fd.h"
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
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
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

// A version's two files: the key 0600 from creation (its PEM wiped from memory once written),
// then the chain. A put alone syncs each file and the version directory itself; a group syncs the
// file system once instead (see commitPuts).
Status writeVersionFiles(const fs::path& versionDir, const CertificateBundle& bundle, bool alone) {
  std::string keyPem = bundle.key.toPem();
  Status wrote = durable::writeFile(versionDir / CertificateStore::kKeyFile, keyPem,
                                    {kKeyMode, /*exclusive=*/true, alone});
  OPENSSL_cleanse(keyPem.data(), keyPem.size());
  if (wrote)
    wrote = durable::writeFile(versionDir / CertificateStore::kChainFile, bundle.chainPem(),
                               {kChainMode, /*exclusive=*/true, alone});
  if (wrote && alone) wrote = durable::syncDirectory(versionDir);
  return wrote;
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
  if (!isDns1123Label(space) || !isDns1123Label(name)) {
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
  if (auto made = durable::makeDirectory(dir, kDirectoryMode); !made) return made;
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
  // Puts that arrive while another commits are committed together (see GroupCommit).
  PendingPut own{key, &bundle, Status::ok(), false};
  commits_.submit(own, [this](const std::vector<PendingPut*>& group) { commitPuts(group); });
  return std::move(own.status);
}

void CertificateStore::commitPuts(const std::vector<PendingPut*>& group) noexcept {
  // One put alone syncs exactly what it wrote (two files, two directory entries: four fsyncs).
  // Several sync the file system once instead: the same guarantee for all of them at the cost of
  // one sync, which is what makes importing thousands of certificates at once take seconds.
  const bool alone = group.size() == 1;
  try {
    // 1. Each new version in a directory whose name no reader looks at.
    std::vector<StagedVersion> staged = stageVersions(group, alone);

    // 2. The swaps, in queue order (two puts of one key in a group apply in the order they came).
    std::set<fs::path> swappedDirs;
    for (auto& version : staged) {
      if (swapIn(version)) swappedDirs.insert(version.spaceDir);
    }
    std::map<fs::path, Status> syncs;
    for (const auto& spaceDir : swappedDirs)
      syncs.emplace(spaceDir, durable::syncDirectory(spaceDir));

    // 3. Old versions go once the new links are durable.
    for (const auto& version : staged) {
      if (version.linked) retirePrevious(version, syncs.at(version.spaceDir));
    }
  } catch (const std::exception& error) {
    // Out of memory: no put may wait for a commit that never ends. What was staged and not
    // linked is swept by the next open().
    for (PendingPut* put : group) {
      if (put->status.isOk())
        put->status = Status::error("certificate store " + put->key + ": " + error.what());
    }
  }
}

void CertificateStore::StagedVersion::discard() const {
  std::error_code ignored;
  fs::remove(spaceDir / (versionName + kLinkSuffix), ignored);
  fs::remove_all(spaceDir / versionName, ignored);
}

std::vector<CertificateStore::StagedVersion> CertificateStore::stageVersions(
    const std::vector<PendingPut*>& group, bool alone) const {
  std::vector<StagedVersion> staged;
  staged.reserve(group.size());
  for (PendingPut* put : group) {
    if (auto version = stage(*put, alone)) staged.push_back(std::move(*version));
  }
  if (alone || staged.empty()) return staged;
  if (Status synced = durable::syncFileSystem(dir_); !synced) {
    for (const auto& version : staged) {
      version.discard();
      version.put->fail(synced);
    }
    return {};
  }
  return staged;
}

std::optional<CertificateStore::StagedVersion> CertificateStore::stage(PendingPut& put,
                                                                       bool alone) const {
  auto [space, name] = splitKey(put.key);
  StagedVersion version{&put, dir_ / space, name, "." + name + "." + randomSuffix(), "", false};
  if (auto made = durable::makeDirectory(version.spaceDir, kDirectoryMode); !made) {
    put.fail(std::move(made));
    return std::nullopt;
  }
  const fs::path versionDir = version.spaceDir / version.versionName;
  if (::mkdir(versionDir.c_str(), kDirectoryMode) != 0) {
    put.fail(errnoError("cannot create " + versionDir.string()));
    return std::nullopt;
  }
  Status wrote = writeVersionFiles(versionDir, *put.bundle, alone);
  // The version directory's own entry must be durable before any link to it can be: POSIX does
  // not order the two otherwise, and a durable link to a lost directory would lose both versions.
  if (wrote && alone) wrote = durable::syncDirectory(version.spaceDir);
  if (!wrote) {
    version.discard();
    put.fail(std::move(wrote));
    return std::nullopt;
  }
  return version;
}

bool CertificateStore::swapIn(StagedVersion& version) {
  std::lock_guard keyLock(writeMutexFor(version.put->key));
  const fs::path link = version.spaceDir / version.name;
  const fs::path tempLink = version.spaceDir / (version.versionName + kLinkSuffix);
  auto previous = readLink(link);
  if (!previous) {
    version.discard();
    version.put->fail(previous.status());
    return false;
  }
  if (::symlink(version.versionName.c_str(), tempLink.c_str()) != 0) {
    version.discard();
    version.put->fail(errnoError("cannot create " + tempLink.string()));
    return false;
  }
  if (::rename(tempLink.c_str(), link.c_str()) != 0) {
    Status status = errnoError("cannot replace " + link.string());
    version.discard();
    version.put->fail(std::move(status));
    return false;
  }
  // From here the new version is the store's content; what follows only makes it durable and
  // tidies up, and must not remove the new version on failure.
  version.previous = std::move(previous).value();
  version.linked = true;
  remember(version.put->key, version.versionName, version.spaceDir / version.versionName,
           *version.put->bundle);
  return true;
}

void CertificateStore::retirePrevious(const StagedVersion& version, const Status& synced) {
  if (!synced) {
    version.put->fail(synced);
    return;
  }
  const std::string& previous = version.previous;
  if (previous.empty() || previous == version.versionName || previous.starts_with("/") ||
      previous.find('/') != std::string::npos)
    return;
  std::error_code error;
  fs::remove_all(version.spaceDir / previous, error);
  if (error) {
    // Harmless: open() sweeps unreferenced versions.
    logger("controller.certs")
        ->warn("event=store_cleanup_failed key={} path={} error={}", version.put->key,
               (version.spaceDir / previous).string(), error.message());
  }
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
    // Stamped before reading: a file changed after this is seen by the next get.
    auto stamps = stampsOf(versionDir);
    if (stamps) {
      std::lock_guard lock(decodedMutex_);
      auto kept = decoded_.find(key);
      if (kept != decoded_.end() && kept->second.version == *target &&
          kept->second.chain == stamps->first && kept->second.key == stamps->second)
        return GetResult(std::optional<CertificateBundle>(kept->second.bundle));
    }
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
    if (stamps) {
      std::lock_guard lock(decodedMutex_);
      decoded_.insert_or_assign(key, Decoded{*target, stamps->first, stamps->second, *bundle});
    }
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
  {
    std::lock_guard decodedLock(decodedMutex_);
    decoded_.erase(key);
  }
  if (::unlink((spaceDir / name).c_str()) != 0)
    return errnoError("cannot remove " + (spaceDir / name).string());
  if (auto synced = durable::syncDirectory(spaceDir); !synced) return synced;
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

std::optional<std::pair<FileStamp, FileStamp>> CertificateStore::stampsOf(
    const fs::path& versionDir) {
  auto chain = FileStamp::of(versionDir / kChainFile, /*followLinks=*/false);
  auto key = FileStamp::of(versionDir / kKeyFile, /*followLinks=*/false);
  if (!chain || !key) return std::nullopt;
  return std::make_pair(*chain, *key);
}

void CertificateStore::remember(const std::string& key, const std::string& version,
                                const fs::path& versionDir, const CertificateBundle& bundle) const {
  auto stamps = stampsOf(versionDir);
  std::lock_guard lock(decodedMutex_);
  if (!stamps) {
    decoded_.erase(key);
    return;
  }
  decoded_.insert_or_assign(key, Decoded{version, stamps->first, stamps->second, bundle});
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
