//! TLS settings built from the options (BEH-140..BEH-144, P-082) and the names `/stats` gives
//! a client's TLS session (H-044).
//!
//! rustls speaks TLS 1.2 and 1.3 only: a `--tls-min-version` of tls1.0 or tls1.1 therefore
//! means "1.2 or newer" (see docs/compatibility-tls.md).

use std::fmt;
use std::sync::Arc;

use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, ProtocolVersion, RootCertStore,
    ServerConfig, SignatureScheme, SupportedProtocolVersion,
};

use crate::options::{Options, TLS_VERSION_1_3};

/// Why a TLS configuration could not be built; shown after `failed to build TLS config - `.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("open {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("tls: failed to find any PEM data in certificate input")]
    NoCertificate,
    #[error("tls: failed to find any PEM data in key input")]
    NoKey,
    #[error("failed to append certificate to pool")]
    NoRootCertificate,
    #[error("no usable system root certificates")]
    NoSystemRoots,
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("tls: {0}")]
    Verifier(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The protocol versions `--tls-min-version` allows, newest first.
fn versions(min_version: u16) -> &'static [&'static SupportedProtocolVersion] {
    static TLS13_ONLY: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    static TLS12_UP: [&SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    if min_version >= TLS_VERSION_1_3 {
        &TLS13_ONLY
    } else {
        &TLS12_UP
    }
}

fn read(path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_string(),
        source,
    })
}

fn certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    // Blocks that are not certificates, or do not parse, are skipped as Go's loader does.
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

/// Roots from `--tls-root-ca-file`, else from the system store.
fn roots(opts: &Options) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    if !opts.tls_root_ca_file.is_empty() {
        let (added, _) =
            store.add_parsable_certificates(certificates(&read(&opts.tls_root_ca_file)?));
        if added == 0 {
            return Err(TlsError::NoRootCertificate);
        }
    } else {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = store.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(TlsError::NoSystemRoots);
        }
    }
    Ok(store)
}

/// The server side of TLS, used by the TCP upgrade and the HTTPS listener; `None` when neither
/// `--tls-cert` nor `--tls-key` is set.
pub fn server_config(opts: &Options) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    if opts.tls_cert.is_empty() && opts.tls_key.is_empty() {
        return Ok(None);
    }
    let chain = certificates(&read(&opts.tls_cert)?);
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&opts.tls_key)?).map_err(|_| TlsError::NoKey)?;
    // The root CA file is read whenever it is given, whatever the policy (as the reference does).
    let ca_roots = if opts.tls_root_ca_file.is_empty() {
        None
    } else {
        Some(roots(opts)?)
    };
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(opts.tls_min_version))?;
    let builder = match opts.tls_client_auth_policy.as_str() {
        "require" => builder.with_client_cert_verifier(Arc::new(AnyClientCert {
            algorithms: provider.signature_verification_algorithms,
        })),
        "require-verify" => {
            let roots = match ca_roots {
                Some(r) => r,
                None => roots(opts)?,
            };
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        // QRK-15: any other value asks for no client certificate at all.
        _ => builder.with_no_client_auth(),
    };
    Ok(Some(Arc::new(builder.with_single_cert(chain, key)?)))
}

/// The client side nsqd uses towards auth servers (BEH-144): the same minimum version, and
/// `--tls-root-ca-file` (else the system roots) to verify them.
pub fn client_config(opts: &Options) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = match roots(opts) {
        Ok(r) => r,
        // Without a CA file a machine with no system roots can still run nsqd; only https
        // auth servers would then fail to verify.
        Err(TlsError::NoSystemRoots) if opts.tls_root_ca_file.is_empty() => RootCertStore::empty(),
        Err(e) => return Err(e),
    };
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions(opts.tls_min_version))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `--tls-client-auth-policy=require`: a certificate must be presented, but it is not checked
/// against any roots (its handshake signature still is).
#[derive(Debug)]
struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `tls_version` in `/stats` (H-044).
pub fn version_name(version: ProtocolVersion) -> String {
    match u16::from(version) {
        0x0300 => "SSL30".to_string(),
        v @ 0x0301..=0x0304 => format!("TLS1.{}", v - 0x0301),
        v => format!("Unknown {v}"),
    }
}

/// The TLS 1.0-1.2 suites the reference names in `/stats`; everything else, every TLS 1.3
/// suite included, shows as `Unknown <n>` (QRK-16).
const NAMED_SUITES: [(u16, &str); 13] = [
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    (0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    (0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    (0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    (0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
];

/// `tls_cipher_suite` in `/stats` (H-044).
pub fn cipher_suite_name(suite: u16) -> String {
    NAMED_SUITES
        .iter()
        .find(|(id, _)| *id == suite)
        .map_or_else(|| format!("Unknown {suite}"), |(_, name)| name.to_string())
}

/// The subject common name of the client's certificate, or "" without one (the
/// `common_name` of auth requests, BEH-151). The last CN wins when there are several, as in Go.
pub fn peer_common_name(conn: &rustls::ServerConnection) -> String {
    conn.peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|cert| subject_common_name(cert))
        .unwrap_or_default()
}

/// One DER element at the start of `der`: (tag, contents, what follows).
fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The CN attribute (OID 2.5.4.3) of an X.509 certificate's subject.
fn subject_common_name(cert: &[u8]) -> Option<String> {
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    let (_, cert, _) = der_element(cert)?;
    let (_, tbs, _) = der_element(cert)?;
    let mut rest = tbs;
    if let (0xa0, _, after_version) = der_element(rest)? {
        rest = after_version;
    }
    // serialNumber, signature, issuer and validity come before the subject.
    for _ in 0..4 {
        rest = der_element(rest)?.2;
    }
    let (_, subject, _) = der_element(rest)?;
    let mut common_name = None;
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (_, set, next) = der_element(rdns)?;
        rdns = next;
        let mut attributes = set;
        while !attributes.is_empty() {
            let (_, attribute, next) = der_element(attributes)?;
            attributes = next;
            let (_, oid, value) = der_element(attribute)?;
            if oid == CN {
                let (_, text, _) = der_element(value)?;
                common_name = Some(String::from_utf8_lossy(text).into_owned());
            }
        }
    }
    common_name
}

/// What `/stats` shows about one client's TLS session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionInfo {
    pub version: String,
    pub cipher_suite: String,
}

impl SessionInfo {
    pub fn of(conn: &rustls::ServerConnection) -> Self {
        SessionInfo {
            version: conn
                .protocol_version()
                .map(version_name)
                .unwrap_or_default(),
            cipher_suite: conn
                .negotiated_cipher_suite()
                .map(|s| cipher_suite_name(u16::from(s.suite())))
                .unwrap_or_default(),
        }
    }
}

impl fmt::Display for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.cipher_suite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_follow_the_reference() {
        assert_eq!(version_name(ProtocolVersion::TLSv1_2), "TLS1.2");
        assert_eq!(version_name(ProtocolVersion::TLSv1_3), "TLS1.3");
        assert_eq!(version_name(ProtocolVersion::TLSv1_0), "TLS1.0");
        assert_eq!(version_name(ProtocolVersion::SSLv3), "SSL30");
        assert_eq!(
            version_name(ProtocolVersion::Unknown(0x7f1c)),
            "Unknown 32540"
        );
    }

    #[test]
    fn only_the_legacy_suites_have_names() {
        assert_eq!(
            cipher_suite_name(0xc02f),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(
            cipher_suite_name(0xc02b),
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        );
        // TLS_AES_128_GCM_SHA256 (TLS 1.3) and TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384.
        assert_eq!(cipher_suite_name(0x1301), "Unknown 4865");
        assert_eq!(cipher_suite_name(0xc030), "Unknown 49200");
    }

    #[test]
    fn common_name_comes_from_the_subject_not_the_issuer() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "test CA");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["client".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "nsq");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "consumer-7");
        let cert = params.signed_by(&key, &issuer).unwrap();
        assert_eq!(
            subject_common_name(cert.der()).as_deref(),
            Some("consumer-7")
        );
        assert_eq!(
            subject_common_name(ca_cert.der()).as_deref(),
            Some("test CA")
        );
        let mut no_cn = rcgen::CertificateParams::new(vec!["x".to_string()]).unwrap();
        no_cn.distinguished_name = rcgen::DistinguishedName::new();
        let no_cn = no_cn
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap();
        assert_eq!(subject_common_name(no_cn.der()), None);
        assert_eq!(subject_common_name(b"\x30\x03\x02"), None);
    }

    #[test]
    fn no_cert_and_no_key_means_no_tls() {
        assert!(server_config(&Options::default()).unwrap().is_none());
    }

    #[test]
    fn unreadable_files_are_reported_with_their_path() {
        let opts = Options {
            tls_cert: "/nonexistent/cert.pem".into(),
            tls_key: "/nonexistent/key.pem".into(),
            ..Options::default()
        };
        let e = server_config(&opts).unwrap_err().to_string();
        assert!(e.starts_with("open /nonexistent/cert.pem: "), "{e}");
    }

    #[test]
    fn files_without_pem_blocks_are_refused() {
        let dir = std::env::temp_dir().join(format!("nsqd-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let junk = junk.display().to_string();
        let opts = Options {
            tls_cert: junk.clone(),
            tls_key: junk.clone(),
            ..Options::default()
        };
        assert_eq!(
            server_config(&opts).unwrap_err().to_string(),
            "tls: failed to find any PEM data in certificate input"
        );
        let opts = Options {
            tls_root_ca_file: junk,
            ..Options::default()
        };
        assert_eq!(
            client_config(&opts).unwrap_err().to_string(),
            "failed to append certificate to pool"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
