#include "dataplane/tls/handshake_failure.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>
#include <unordered_map>

namespace siteplane::tls {
namespace {

using Table = std::unordered_map<std::string, std::string_view>;

// Keyed by the text OpenSSL itself gives each reason code, so the match is exactly what
// TlsSession::recordFailure() stored (it asks ERR_reason_error_string for the same code), and does
// not depend on spelling the strings here.
Table buildTable() {
  OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, nullptr);
  Table table;
  auto add = [&table](int reason, std::string_view label) {
    if (const char* text = ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, reason)))
      table.emplace(text, label);  // the first label given for a text wins
  };
  for (int reason :
       {SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_VERSION_TOO_LOW, SSL_R_VERSION_TOO_HIGH,
        SSL_R_WRONG_SSL_VERSION, SSL_R_NO_PROTOCOLS_AVAILABLE, SSL_R_INAPPROPRIATE_FALLBACK,
        SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, SSL_R_TLSV1_ALERT_INAPPROPRIATE_FALLBACK})
    add(reason, "protocol_version");
  for (int reason :
       {SSL_R_NO_SHARED_CIPHER, SSL_R_NO_SHARED_GROUPS, SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS,
        SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM, SSL_R_NO_SUITABLE_KEY_SHARE,
        SSL_R_NO_SUITABLE_GROUPS, SSL_R_NO_SUITABLE_DIGEST_ALGORITHM, SSL_R_NO_CIPHERS_AVAILABLE})
    add(reason, "no_shared_cipher");
  for (int reason : {SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST}) add(reason, "http_request");
  for (int reason :
       {SSL_R_WRONG_VERSION_NUMBER, SSL_R_UNKNOWN_PROTOCOL, SSL_R_PACKET_LENGTH_TOO_LONG,
        SSL_R_RECORD_LENGTH_MISMATCH, SSL_R_UNEXPECTED_MESSAGE, SSL_R_UNEXPECTED_RECORD,
        SSL_R_LENGTH_MISMATCH, SSL_R_BAD_PACKET, SSL_R_BAD_LENGTH, SSL_R_BAD_EXTENSION,
        SSL_R_BAD_RECORD_TYPE, SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC})
    add(reason, "malformed");
  add(SSL_R_UNEXPECTED_EOF_WHILE_READING, "eof");
  // Alerts the client sent are reasons SSL_AD_REASON_OFFSET + the alert's code.
  for (int alert :
       {SSL3_AD_BAD_CERTIFICATE, SSL3_AD_UNSUPPORTED_CERTIFICATE, SSL3_AD_CERTIFICATE_REVOKED,
        SSL3_AD_CERTIFICATE_EXPIRED, SSL3_AD_CERTIFICATE_UNKNOWN, TLS1_AD_UNKNOWN_CA})
    add(SSL_AD_REASON_OFFSET + alert, "certificate_rejected");
  for (int alert = 0; alert < 256; ++alert) add(SSL_AD_REASON_OFFSET + alert, "client_alert");
  // TlsSession's own reasons and the transport's.
  table.emplace("unrecognized_name", "unrecognized_name");
  table.emplace("malformed server_name", "malformed");
  table.emplace("context switch failed", "internal_error");
  table.emplace("unexpected eof", "eof");
  table.emplace("eof", "eof");
  table.emplace("timeout", "timeout");
  return table;
}

}  // namespace

std::string_view handshakeFailureLabel(std::string_view reason) noexcept {
  try {
    static const Table kTable = buildTable();
    auto found = kTable.find(std::string(reason));
    return found == kTable.end() ? std::string_view("other") : found->second;
  } catch (const std::exception&) {
    return "other";  // only allocation can throw here
  }
}

}  // namespace siteplane::tls
