// SPDX-License-Identifier: MIT
// TestCa: a throw-away certificate authority for tests, made with the
// OpenSSL API (EC P-256 keys, SHA-256 signatures, valid for a day), and
// WriteTlsDir, which lays out --tls-dir's five files. Two TestCas stand
// for two organisations: a certificate from one is a stranger to the other.
#ifndef MIGRATION_TESTING_TEST_PKI_H_
#define MIGRATION_TESTING_TEST_PKI_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace migration {

struct IssuedPair {
  std::string cert_pem;
  std::string key_pem;
};

class TestCa {
 public:
  static absl::StatusOr<TestCa> Create(const std::string& common_name);
  // A certificate for `dns_name` (its CN and DNS subjectAltName, plus the
  // IP subjectAltName 127.0.0.1), good for TLS servers and clients.
  absl::StatusOr<IssuedPair> Issue(const std::string& dns_name) const;
  const std::string& cert_pem() const { return cert_pem_; }

 private:
  struct KeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  };
  struct CertFree {
    void operator()(X509* cert) const { X509_free(cert); }
  };
  TestCa(std::unique_ptr<EVP_PKEY, KeyFree> key, std::unique_ptr<X509, CertFree> cert, std::string pem)
      : key_(std::move(key)), cert_(std::move(cert)), cert_pem_(std::move(pem)) {}
  std::unique_ptr<EVP_PKEY, KeyFree> key_;
  std::unique_ptr<X509, CertFree> cert_;
  std::string cert_pem_;
};

// DIR/ca-cert.pem (`ca_pem`, which may hold several CAs), and the server
// and client pairs.
absl::Status WriteTlsDir(const std::string& dir, const std::string& ca_pem, const IssuedPair& server,
                         const IssuedPair& client);

// A directory with a fresh pair of each kind from `ca`, trusting only it.
absl::Status WriteTlsDir(const std::string& dir, const TestCa& ca);

}  // namespace migration

#endif  // MIGRATION_TESTING_TEST_PKI_H_
