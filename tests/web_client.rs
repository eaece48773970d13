//! The web client is inside the binary, one file to deploy: every page and script is in the
//! server binary's bytes and served from there with an ETag (a page revalidates and gets 304)
//! and compressed as the browser accepts; a directory given in `TONGBU_HTTP_WEB_DIR` overrides it
//! for work on the pages (served by tower-http, ranges too).

mod common;

use common::TestServer;
use reqwest::{Client, StatusCode};

#[tokio::test]
async fn the_pages_are_in_the_binary_and_served_with_etags_and_compression() {
    // The bytes of a script, as written, are in the server binary.
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/web-client");
    let script = std::fs::read(format!("{repo}/js/lesson.js")).expect("the lesson page's script");
    let binary = std::fs::read(env!("CARGO_BIN_EXE_tongbu")).expect("the server binary");
    assert!(
        binary.windows(script.len()).any(|w| w == &script[..]),
        "web-client/js/lesson.js is inside the binary"
    );

    let server = TestServer::start().await;
    let client = Client::new();
    let res = client
        .get(server.http("/js/lesson.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(res.headers()["cache-control"], "no-cache");
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(res.bytes().await.unwrap(), script, "served as written");
    let again = client
        .get(server.http("/js/lesson.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::NOT_MODIFIED,
        "revalidated by its ETag"
    );
    let zipped = client
        .get(server.http("/js/lesson.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let size = zipped.bytes().await.unwrap().len();
    eprintln!("lesson.js: {} bytes, {size} gzipped", script.len());
    assert!(size * 2 < script.len(), "{size} of {}", script.len());
    for (path, status) in [
        ("/", StatusCode::OK),
        ("/replay.html", StatusCode::OK),
        ("/no-such-page.html", StatusCode::NOT_FOUND),
        ("/js/../../Cargo.toml", StatusCode::NOT_FOUND),
    ] {
        let res = client.get(server.http(path)).send().await.unwrap();
        assert_eq!(res.status(), status, "{path}");
    }
}

#[tokio::test]
async fn a_web_directory_overrides_the_built_in_pages() {
    let dir = std::env::temp_dir().join(format!("tongbu-web-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>工作中的页面</title>",
    )
    .unwrap();
    let server = TestServer::start_with(|c| c.web_dir = Some(dir.clone())).await;
    let client = Client::new();
    let page = client.get(server.http("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("工作中的页面"));
    let part = client
        .get(server.http("/index.html"))
        .header("range", "bytes=0-14")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap().len(), 15);
    let _ = std::fs::remove_dir_all(&dir);
}
