//! TLS for the API server: a throw-away CA and a server certificate for 127.0.0.1, made at
//! start. kubectl sends bearer tokens only over TLS, so the kubeconfig names this CA.

use std::{
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// The server side of TLS and the CA clients must trust.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    /// The CA certificate, PEM, for `certificate-authority-data`.
    pub(crate) ca_pem: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

/// Makes a CA and a certificate for `localhost` and `127.0.0.1` signed by it.
pub(crate) fn generate() -> anyhow::Result<Tls> {
    let ca_key = KeyPair::generate().context("Failed to generate the CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).context("Failed to make CA parameters")?;
    ca_params.distinguished_name.push(DnType::CommonName, "kube-sim-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca_params.self_signed(&ca_key).context("Failed to sign the CA")?;

    let key = KeyPair::generate().context("Failed to generate the server key")?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned()]).context("Failed to make server parameters")?;
    params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params.distinguished_name.push(DnType::CommonName, "kube-sim");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca, &ca_key).context("Failed to sign the server certificate")?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("Failed to choose TLS versions")?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .context("Failed to configure TLS")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls { acceptor: TlsAcceptor::from(Arc::new(config)), ca_pem: ca.pem() })
}
