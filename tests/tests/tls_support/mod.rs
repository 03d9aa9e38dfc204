//! Test certificates made with rcgen, and rustls client settings that trust them; shared by
//! the stream-upgrade tests and the compatibility tests that use TLS.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore};

/// A CA, a server certificate it signed (localhost and 127.0.0.1), a client certificate it
/// signed, and a self-signed client certificate nobody trusts; PEM files in a temp dir.
pub struct Certs {
    _dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca: CertificateDer<'static>,
    pub client: (CertificateDer<'static>, Vec<u8>),
    pub rogue_client: (CertificateDer<'static>, Vec<u8>),
}

fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    cn: &str,
    purpose: ExtendedKeyUsagePurpose,
) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into().unwrap()),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    ];
    p.extended_key_usages = vec![purpose];
    let cert = p.signed_by(&key, issuer).unwrap();
    (cert, key)
}

pub fn certs() -> Certs {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "nsq test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let (server, server_key) = leaf(&issuer, "nsqd", ExtendedKeyUsagePurpose::ServerAuth);
    let (client, client_key) = leaf(&issuer, "consumer", ExtendedKeyUsagePurpose::ClientAuth);

    let rogue_key = KeyPair::generate().unwrap();
    let mut rogue = CertificateParams::default();
    rogue.distinguished_name.push(DnType::CommonName, "rogue");
    rogue.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let rogue = rogue.self_signed(&rogue_key).unwrap();

    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Certs {
        ca_file: write("ca.pem", ca_cert.pem()),
        cert_file: write("server.pem", server.pem()),
        key_file: write("server.key", server_key.serialize_pem()),
        ca: ca_cert.der().clone(),
        client: (client.der().clone(), client_key.serialize_der()),
        rogue_client: (rogue.der().clone(), rogue_key.serialize_der()),
        _dir: dir,
    }
}

impl Certs {
    pub fn args(&self) -> Vec<String> {
        vec![
            format!("--tls-cert={}", self.cert_file.display()),
            format!("--tls-key={}", self.key_file.display()),
            // The default 0.0.0.0:4152 would collide between tests running side by side.
            "--https-address=127.0.0.1:0".to_string(),
        ]
    }

    /// A client trusting the test CA; `identity` is a client certificate to present.
    pub fn client(
        &self,
        identity: Option<&(CertificateDer<'static>, Vec<u8>)>,
    ) -> Arc<ClientConfig> {
        self.client_with(rustls::crypto::ring::default_provider(), identity, false)
    }

    pub fn client_with(
        &self,
        provider: rustls::crypto::CryptoProvider,
        identity: Option<&(CertificateDer<'static>, Vec<u8>)>,
        tls12_only: bool,
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        let builder = ClientConfig::builder_with_provider(Arc::new(provider));
        let builder = if tls12_only {
            builder.with_protocol_versions(&[&rustls::version::TLS12])
        } else {
            builder.with_safe_default_protocol_versions()
        }
        .unwrap()
        .with_root_certificates(roots);
        let config = match identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    vec![cert.clone()],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.clone())),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        Arc::new(config)
    }
}
