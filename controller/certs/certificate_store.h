#pragma once

// The certificate store: a directory in the state dir holding each Certificate's chain and private
// key, keyed "namespace/name". It survives `kill -9` and power loss at any point of a write: a
// reader sees the previous pair or the new one, never half of each.
//
// Layout (the names inside follow kubernetes.io/tls Secrets):
//   <dir>/                           0700
//     <namespace>/                   0700
//       <name> -> .<name>.<random>   symlink to the current version
//       .<name>.<random>/            0700, one complete version
//         tls.crt                    0644, chain PEM, leaf first
//         tls.key                    0600 from creation, PKCS#8 PEM
//
// Why a symlink swap (as Kubernetes' AtomicWriter does for volume mounts) rather than renaming
// the two files one after the other: a certificate and its key must change together. A crash
// between two renames would leave a new key next to the old certificate, and the only way back
// would be re-issuing. Here a put writes a fresh version directory whose name no reader looks at,
// fsyncs the files and the directory, then renames a new symlink over <name> (rename is atomic)
// and fsyncs the namespace directory; only then is the old version removed. Leftovers of an
// interrupted put (an unreferenced version directory, a temporary symlink) are swept by open().

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/file_stamp.h"
#include "common/group_commit.h"
#include "common/status.h"
#include "controller/certs/certificate_bundle.h"

namespace siteplane::certs {

class CertificateStore {
 public:
  // Creates `dir` (mode 0700; an existing directory is tightened to 0700) and sweeps what an
  // interrupted write left behind.
  static Result<std::unique_ptr<CertificateStore>> open(const std::filesystem::path& dir);

  CertificateStore(const CertificateStore&) = delete;
  CertificateStore& operator=(const CertificateStore&) = delete;

  // Stores `bundle` under `key` ("namespace/name", both DNS-1123 labels), replacing any previous
  // version atomically. Returns once the new version is durable. The bundle must be well formed:
  // the key matches the leaf and each certificate is signed by the next (orderChain's output).
  Status put(const std::string& key, const CertificateBundle& bundle);

  // The stored bundle, nullopt when `key` has none. A stored pair that no longer parses or whose
  // key does not match its leaf (edited by hand, disk damage) is an error naming the file.
  // Decoding a key and certificate costs OpenSSL 3 about a millisecond, so the decoded bundle of
  // each key's current version is kept: a get of a version this store wrote or read before, whose
  // files are unchanged (same inode, size and times), returns the kept bundle, sharing its
  // decoded objects, without reading or decoding anything.
  Result<std::optional<CertificateBundle>> get(const std::string& key) const;

  // Removes `key`'s certificate and key; removing an absent key is ok.
  Status remove(const std::string& key);

  // Every stored key, sorted.
  Result<std::vector<std::string>> list() const;

  // Where `key`'s files are (through the symlink, so the paths stay valid across puts), for tools
  // that read one of them. Reading both through these paths can straddle a put; get() cannot.
  std::filesystem::path chainPath(const std::string& key) const;
  std::filesystem::path keyPath(const std::string& key) const;

  const std::filesystem::path& directory() const { return dir_; }

  static constexpr const char* kChainFile = "tls.crt";
  static constexpr const char* kKeyFile = "tls.key";

 private:
  explicit CertificateStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // Runs in open(), before the store is shared, so it takes no lock.
  Status sweep();
  std::mutex& writeMutexFor(const std::string& key);

  // One caller's put, queued for the group commit.
  struct PendingPut {
    std::string key;
    const CertificateBundle* bundle;  // the caller's, alive until done
    Status status;
    bool committed = false;  // GroupCommit's

    // Records why this put failed, naming its key.
    void fail(Status why) { status = std::move(why).withContext("certificate store " + key); }
  };
  // A put's new version: a directory whose name no reader looks at, then linked in as <name>.
  struct StagedVersion {
    PendingPut* put;
    std::filesystem::path spaceDir;
    std::string name;
    std::string versionName;
    std::string previous;  // the version the link pointed to before this put
    bool linked = false;
    // Removes the version and its temporary link (a put that failed before its link was swapped).
    void discard() const;
  };
  // Writes, syncs and swaps in every put of `group`, in order, setting each one's status.
  void commitPuts(const std::vector<PendingPut*>& group) noexcept;
  // Step 1: the staged version of each put of `group` whose files were written (durable: each
  // synced when alone, else one file-system sync for all); the others have failed.
  std::vector<StagedVersion> stageVersions(const std::vector<PendingPut*>& group, bool alone) const;
  std::optional<StagedVersion> stage(PendingPut& put, bool alone) const;
  // Step 2: renames a link to the staged version over <name> (under the key's write mutex);
  // false, with the version discarded and the put failed, when that fails.
  bool swapIn(StagedVersion& version);
  // Step 3: once the new link is durable (`synced`, its directory's sync), removes the version
  // it replaced; a failed sync fails the put.
  static void retirePrevious(const StagedVersion& version, const Status& synced);

  // A version's bundle as decoded, with what its two files looked like then: a file replaced or
  // edited in place by hand changes its stamp.
  struct Decoded {
    std::string version;  // the version directory's name
    FileStamp chain;
    FileStamp key;
    CertificateBundle bundle;
  };
  // The stamps of `versionDir`'s two files; nullopt when either cannot be stat()ed.
  static std::optional<std::pair<FileStamp, FileStamp>> stampsOf(
      const std::filesystem::path& versionDir);
  void remember(const std::string& key, const std::string& version,
                const std::filesystem::path& versionDir, const CertificateBundle& bundle) const;

  const std::filesystem::path dir_;
  // Puts from several threads share their syncs.
  GroupCommit<PendingPut> commits_;

  // Writers of one key (a put's swap, a remove) hold the mutex its hash picks, so they never race
  // on its symlink and the old version one of them is about to delete. Readers take no lock: the
  // swap is atomic.
  static constexpr size_t kWriteMutexes = 64;
  std::array<std::mutex, kWriteMutexes> writeMutexes_;

  mutable std::mutex decodedMutex_;                           // guards decoded_
  mutable std::unordered_map<std::string, Decoded> decoded_;  // by key: its current version
};

// Checks a store key: "namespace/name", both DNS-1123 labels.
Status validateStoreKey(const std::string& key);

}  // namespace siteplane::certs
