#pragma once

// Handshake failures as metric labels. TlsSession::failureReason() is OpenSSL's reason string
// ("wrong version number", "sslv3 alert bad certificate", ... — hundreds exist) or one of the
// session's own, and the transport adds "eof" and "timeout"; logs keep that detail. A metric label
// must come from a small fixed set instead, so that no client, however odd its bytes, can create
// series: handshakeFailureLabel() folds every reason into one of kHandshakeFailureLabels.

#include <array>
#include <string_view>

namespace siteplane::tls {

// Every label handshakeFailureLabel() returns:
//   protocol_version      no TLS version in common (a TLS 1.0-only client, minTLSVersion 1.3)
//   no_shared_cipher      no cipher suite, group or signature algorithm in common
//   http_request          plain HTTP sent to an https port
//   malformed             bytes that are not a well-formed TLS handshake (scanners, garbage)
//   unrecognized_name     SNI for a name no binding serves, on a listener without a default
//   certificate_rejected  the client refused our certificate (alert bad_certificate, unknown_ca …)
//   client_alert          any other alert the client sent
//   eof                   the client closed the connection mid-handshake
//   timeout               the handshake did not finish within the handshake timeout
//   internal_error        our side failed (switching to the SNI-selected context)
//   other                 anything else
inline constexpr std::array<std::string_view, 11> kHandshakeFailureLabels = {
    "protocol_version",  "no_shared_cipher",     "http_request", "malformed",
    "unrecognized_name", "certificate_rejected", "client_alert", "eof",
    "timeout",           "internal_error",       "other"};

// The label of a failure reason. Thread-safe; the table of OpenSSL reason strings is built once.
std::string_view handshakeFailureLabel(std::string_view reason) noexcept;

}  // namespace siteplane::tls
