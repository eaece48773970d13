//! HTTPS and WSS built in: with a certificate and key configured, a real server serves its API
//! and its signaling WebSocket over TLS, picks up a renewed certificate without a restart (and
//! keeps the one in force when the new files do not load), and a bad file stops the start naming
//! its key.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestServer;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tongbu_server::tls::TlsFiles;
use tongbu_server::Server;

/// A new self-signed certificate in the files; returns its DER.
fn make_certificate(cert: &Path, key: &Path) -> CertificateDer<'static> {
    common::self_signed_certificate(cert, key);
    CertificateDer::from_pem_file(cert).unwrap()
}

/// A TLS connection to the server trusting `roots`; returns it and the certificate it was shown.
async fn connect(
    addr: std::net::SocketAddr,
    roots: &[CertificateDer<'static>],
) -> (TlsStream<TcpStream>, CertificateDer<'static>) {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::IpAddress(addr.ip().into());
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let shown = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    (tls, shown)
}

fn files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("cert.pem"), dir.join("key.pem"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_are_served_and_a_renewed_certificate_is_picked_up() {
    let dir = std::env::temp_dir().join(format!("tongbu-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = files(&dir);
    let first = make_certificate(&cert, &key);
    let tls = TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
    };
    let server = TestServer::start_with(|c| c.tls = Some(tls)).await;
    let addr = server.server.http_addr;

    // HTTPS: the API answers.
    let (mut s, shown) = connect(addr, std::slice::from_ref(&first)).await;
    assert_eq!(shown, first);
    s.write_all(b"GET /api/demo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"links\""), "{answer}");

    // WSS: a classroom joins over TLS.
    let (s, _) = connect(addr, std::slice::from_ref(&first)).await;
    let url = server
        .classroom_url(0)
        .replace(&format!("ws://{addr}"), &format!("wss://{addr}"));
    let (mut ws, _) = tokio_tungstenite::client_async(url, s)
        .await
        .expect("WSS upgrade");
    ws.send(r#"{"type":"join","version":1}"#.into())
        .await
        .unwrap();
    let joined = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(m))) if m.is_text() => {
                let text = m.into_text().unwrap().to_string();
                if text.contains("\"type\":\"joined\"") {
                    break text;
                }
            }
            other => panic!("no joined over WSS: {other:?}"),
        }
    };
    assert!(joined.contains("classroom 0"), "{joined}");

    // A renewal: the next connection gets the new certificate, no restart.
    let second = make_certificate(&cert, &key);
    assert_ne!(first, second);
    let both = [first.clone(), second.clone()];
    let t0 = Instant::now();
    loop {
        let (_, shown) = connect(addr, &both).await;
        if shown == second {
            break;
        }
        assert!(
            t0.elapsed() < tongbu_server::tls::RELOAD_EVERY * 3,
            "still the old certificate after {:?}",
            t0.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "renewed certificate served {:?} after the files changed",
        t0.elapsed()
    );

    // A renewal caught half-written does not take the server down: the one in force stays.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    tokio::time::sleep(tongbu_server::tls::RELOAD_EVERY + Duration::from_secs(1)).await;
    let (_, shown) = connect(addr, &both).await;
    assert_eq!(shown, second);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_bad_certificate_or_key_stops_the_start_naming_its_key() {
    let dir = std::env::temp_dir().join(format!("tongbu-tls-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = files(&dir);
    make_certificate(&cert, &key);
    let start = |tls: TlsFiles| {
        Server::start(tongbu_server::Config {
            http_addr: "127.0.0.1:0".parse().unwrap(),
            media_udp_port: 0,
            data_dir: dir.join("data"),
            tls: Some(tls),
            ..tongbu_server::Config::default()
        })
    };
    let missing_key = start(TlsFiles {
        cert: cert.clone(),
        key: dir.join("nowhere.pem"),
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(missing_key.contains("TONGBU_HTTP_TLS_KEY"), "{missing_key}");
    // A certificate file that holds the key instead.
    let not_a_cert = start(TlsFiles {
        cert: key.clone(),
        key: key.clone(),
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(not_a_cert.contains("TONGBU_HTTP_TLS_CERT"), "{not_a_cert}");
    let _ = std::fs::remove_dir_all(&dir);
}
