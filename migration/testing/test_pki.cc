// SPDX-License-Identifier: MIT
#include "migration/testing/test_pki.h"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace migration {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::Status Failed(const char* what) { return absl::InternalError(absl::StrCat("test PKI: ", what, " failed")); }

// Adds one extension written in OpenSSL's config syntax.
bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool added = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return added;
}

// A certificate for `key` named `common_name`, not yet signed.
X509* NewCertificate(EVP_PKEY* key, const std::string& common_name) {
  static std::atomic<long> serial{1};
  X509* cert = X509_new();
  if (cert == nullptr) return nullptr;
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  return cert;
}

std::string KeyPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioText(bio.get());
}

std::string CertPem(X509* cert) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioText(bio.get());
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TestCa> TestCa::Create(const std::string& common_name) {
  std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_EC_gen("P-256"));
  if (!key) return Failed("CA key generation");
  std::unique_ptr<X509, CertFree> cert(NewCertificate(key.get(), common_name));
  if (!cert) return Failed("CA certificate");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  if (!AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Failed("CA certificate signing");
  }
  std::string pem = CertPem(cert.get());
  return TestCa(std::move(key), std::move(cert), std::move(pem));
}

absl::StatusOr<IssuedPair> TestCa::Issue(const std::string& dns_name) const {
  std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_EC_gen("P-256"));
  if (!key) return Failed("key generation");
  std::unique_ptr<X509, CertFree> cert(NewCertificate(key.get(), dns_name));
  if (!cert) return Failed("certificate");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get()));
  if (!AddExtension(cert.get(), cert_.get(), NID_basic_constraints, "CA:FALSE") ||
      !AddExtension(cert.get(), cert_.get(), NID_subject_alt_name, absl::StrCat("DNS:", dns_name, ",IP:127.0.0.1")) ||
      !AddExtension(cert.get(), cert_.get(), NID_ext_key_usage, "serverAuth,clientAuth") ||
      !AddExtension(cert.get(), cert_.get(), NID_authority_key_identifier, "keyid") ||
      X509_sign(cert.get(), key_.get(), EVP_sha256()) == 0) {
    return Failed("certificate signing");
  }
  return IssuedPair{.cert_pem = CertPem(cert.get()), .key_pem = KeyPem(key.get())};
}

absl::Status WriteTlsDir(const std::string& dir, const std::string& ca_pem, const IssuedPair& server,
                         const IssuedPair& client) {
  ::mkdir(dir.c_str(), 0700);
  for (const auto& [name, text] : {std::pair<const char*, const std::string&>{"ca-cert.pem", ca_pem},
                                   {"server-cert.pem", server.cert_pem},
                                   {"server-key.pem", server.key_pem},
                                   {"client-cert.pem", client.cert_pem},
                                   {"client-key.pem", client.key_pem}}) {
    absl::Status st = WriteFile(absl::StrCat(dir, "/", name), text);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status WriteTlsDir(const std::string& dir, const TestCa& ca) {
  absl::StatusOr<IssuedPair> server = ca.Issue("destination.test");
  absl::StatusOr<IssuedPair> client = ca.Issue("source.test");
  if (!server.ok()) return server.status();
  if (!client.ok()) return client.status();
  return WriteTlsDir(dir, ca.cert_pem(), *server, *client);
}

}  // namespace migration
