#include "controller/certs/certificate_request.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "controller/certs/openssl_util.h"
#include "controller/certs/x509_extensions.h"

namespace siteplane::certs {

Result<std::string> createCertificateRequest(const CertificateTemplate& request,
                                             const PrivateKey& key) {
  // A CSR has no validity period; give the check a valid one so only real problems are reported.
  CertificateTemplate checked = request;
  checked.notBefore = {};
  checked.notAfter = checked.notBefore + std::chrono::seconds(1);
  if (auto valid = validateTemplate(checked); !valid) return valid;

  ERR_clear_error();
  detail::X509ReqPtr csr(X509_REQ_new());
  if (!csr || X509_REQ_set_version(csr.get(), X509_REQ_VERSION_1) != 1) {
    return detail::failure("cannot allocate a certificate request");
  }
  auto subject = detail::subjectName(request);
  if (!subject) return subject.status();
  if (X509_REQ_set_subject_name(csr.get(), subject->get()) != 1)
    return detail::failure("cannot set the subject");
  if (X509_REQ_set_pubkey(csr.get(), key.native()) != 1)
    return detail::failure("cannot set the public key");
  auto extensions = detail::requestExtensions(request, key.algorithm());
  if (!extensions) return extensions.status();
  if (X509_REQ_add_extensions(csr.get(), extensions->get()) != 1) {
    return detail::failure("cannot add the requested extensions");
  }
  if (X509_REQ_sign(csr.get(), key.native(), detail::signingDigest(key.native())) <= 0) {
    return detail::failure("signing the certificate request failed");
  }
  auto bio = detail::writeBio();
  if (PEM_write_bio_X509_REQ(bio.get(), csr.get()) != 1)
    return detail::failure("cannot encode the request");
  return detail::bioContents(bio.get());
}

}  // namespace siteplane::certs
