//! Courseware against a real server and SQLite: the host uploads a deck of slide images with its
//! join token, every participant is told and can fetch each page (immutable, by digest), and a
//! page turn is a signaling message that reaches the room and late joiners. Bad uploads and
//! turns are refused with what to fix, and the session goes on.

mod common;

use std::time::Duration;

use common::{now, TestServer};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use tongbu_load::SignalClient;
use tongbu_schedule::{Deck, DeckId, Role};
use tongbu_signal::{ClientMessage, ErrorCode, ServerMessage};

const T: Duration = Duration::from_secs(10);

/// A PNG's signature followed by `n` (the server tells images by their first bytes).
fn png(n: u8) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend([n; 1000]);
    b
}

fn form(title: &str, pages: &[Vec<u8>]) -> Form {
    let mut f = Form::new().text("title", title.to_string());
    for (i, p) in pages.iter().enumerate() {
        f = f.part(
            "page",
            Part::bytes(p.clone()).file_name(format!("{}.png", i + 1)),
        );
    }
    f
}

fn token_of(ws_url: &str) -> String {
    ws_url.split("token=").nth(1).unwrap().to_string()
}

/// The next page shown (`slide`), skipping other messages.
async fn next_slide(c: &mut SignalClient) -> (Option<DeckId>, u32) {
    c.recv_until(T, |m| match m {
        ServerMessage::Slide { deck, page } => Some((*deck, *page)),
        _ => None,
    })
    .await
    .unwrap()
}

/// The next `courseware` message's decks.
async fn next_decks(c: &mut SignalClient) -> Vec<Deck> {
    c.recv_until(T, |m| match m {
        ServerMessage::Courseware { decks } => Some(decks.clone()),
        _ => None,
    })
    .await
    .unwrap()
}

/// The next error, its code and message.
async fn next_error(c: &mut SignalClient) -> (ErrorCode, String) {
    c.recv_until(T, |m| match m {
        ServerMessage::Error { code, message } => Some((*code, message.clone())),
        _ => None,
    })
    .await
    .unwrap()
}

/// The session's decks, listed with a participant's join token.
async fn listed(server: &TestServer, token: &str) -> Vec<Deck> {
    Client::new()
        .get(server.http("/api/courseware"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn upload(server: &TestServer, token: Option<&str>, f: Form) -> (StatusCode, Value) {
    let mut req = Client::new()
        .post(server.http("/api/courseware"))
        .multipart(f);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_host_uploads_slides_the_room_fetches_them_and_follows_each_page_turn() {
    let server = TestServer::start().await;
    let host_url = server.host_url();
    let host_token = token_of(&host_url);
    let mut host = SignalClient::connect(&host_url).await.unwrap();
    host.join().await.unwrap();
    let mut room = SignalClient::connect(&server.classroom_url(0))
        .await
        .unwrap();
    room.join().await.unwrap();

    // Upload: a deck of three pages, the first and last the same image.
    let (status, body) = upload(
        &server,
        Some(&host_token),
        form("勾股定理", &[png(1), png(2), png(1)]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let deck: Deck = serde_json::from_value(body).unwrap();
    assert_eq!((deck.title.as_str(), deck.pages.len()), ("勾股定理", 3));
    assert_eq!(deck.pages[0].digest, deck.pages[2].digest);

    // The classroom is told, and fetches each page; a cached copy is confirmed, not resent.
    let told = next_decks(&mut room).await;
    assert_eq!(told, vec![deck.clone()]);
    let client = Client::new();
    let url = server.http(&format!("/api/courseware/pages/{}", deck.pages[1].digest));
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let etag = res.headers()["etag"].clone();
    assert_eq!(res.bytes().await.unwrap().to_vec(), png(2));
    let again = client
        .get(&url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let missing = server.http(&format!("/api/courseware/pages/{}", "0".repeat(64)));
    assert_eq!(
        client.get(missing).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let traversal = server.http("/api/courseware/pages/..%2F..%2Fetc%2Fpasswd");
    assert_eq!(
        client.get(traversal).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    // Any participant lists the session's decks with its own token.
    let decks = listed(&server, &token_of(&server.classroom_url(1))).await;
    assert_eq!(decks, vec![deck.clone()]);

    // Page turns reach the room.
    for page in [0, 1, 2] {
        host.send(&ClientMessage::ShowSlide {
            deck: Some(deck.id),
            page,
        });
        assert_eq!(next_slide(&mut room).await, (Some(deck.id), page));
    }

    // A page that is not there, a deck of no one's: refused with what to do; the session goes on.
    host.send(&ClientMessage::ShowSlide {
        deck: Some(deck.id),
        page: 3,
    });
    host.send(&ClientMessage::ShowSlide {
        deck: Some(DeckId(deck.id.0 + 100)),
        page: 0,
    });
    for want in ["pages 0 to 2", "upload it first"] {
        let (code, message) = next_error(&mut host).await;
        assert_eq!(code, ErrorCode::InvalidMessage);
        assert!(message.contains(want), "{message}");
    }
    // A classroom may not turn pages.
    room.send(&ClientMessage::ShowSlide {
        deck: Some(deck.id),
        page: 0,
    });
    let code = next_error(&mut room).await.0;
    assert_eq!(code, ErrorCode::Forbidden);

    // A classroom joining late gets the decks and the page on show right after `joined`.
    let mut late = SignalClient::connect(&server.classroom_url(1))
        .await
        .unwrap();
    late.join().await.unwrap();
    let decks = next_decks(&mut late).await;
    assert_eq!(decks.len(), 1);
    let shown = next_slide(&mut late).await;
    assert_eq!(shown, (Some(deck.id), 2));

    // The slides put away.
    host.send(&ClientMessage::ShowSlide {
        deck: None,
        page: 0,
    });
    assert_eq!(next_slide(&mut room).await.0, None);
}

/// A PDF of `colours.len()` 320×180 pages, each filled with one colour (`"1 0 0"`: red).
fn pdf(colours: &[&str]) -> Vec<u8> {
    let n = colours.len();
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 3 + 2 * i)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")),
    ];
    for (i, c) in colours.iter().enumerate() {
        let content = format!("{c} rg 0 0 320 180 re f");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 320 180] /Contents {} 0 R >>",
            4 + 2 * i
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out += &format!("{} 0 obj\n{o}\nendobj\n", i + 1);
    }
    let xref = out.len();
    out += &format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        out += &format!("{o:010} 00000 n \n");
    }
    out += &format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    out.into_bytes()
}

#[tokio::test]
async fn a_pdf_becomes_one_slide_per_page_rendered_on_the_server() {
    let server = TestServer::start().await;
    let host_token = token_of(&server.host_url());
    // An image, then a PDF of two pages: three slides in that order.
    let (status, body) = upload(
        &server,
        Some(&host_token),
        form("勾股定理", &[png(1), pdf(&["1 0 0", "0 0 1"])]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let deck: Deck = serde_json::from_value(body).unwrap();
    assert_eq!(deck.pages.len(), 3);
    assert_ne!(deck.pages[1].digest, deck.pages[2].digest);
    for p in &deck.pages[1..] {
        assert_eq!(p.image, tongbu_schedule::ImageType::Png);
        let url = server.http(&format!("/api/courseware/pages/{}", p.digest));
        let bytes = Client::new()
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        // A PNG whose IHDR says 1920 wide (the long side), 1080 high: sharp on a projector.
        assert_eq!(&bytes[1..4], b"PNG");
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        assert_eq!((w, h), (1920, 1080));
    }
}

#[tokio::test]
async fn uploads_need_the_hosts_token_and_images_and_leave_nothing_when_refused() {
    let server = TestServer::start().await;
    let host_token = token_of(&server.host_url());
    let (status, body) = upload(&server, None, form("x", &[png(1)])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = upload(&server, Some("tampered"), form("x", &[png(1)])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let room_token = token_of(&server.classroom_url(0));
    let (status, body) = upload(&server, Some(&room_token), form("x", &[png(1)])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["message"].as_str().unwrap().contains("host"));
    // The second page is a text file: the whole deck is refused, naming the page.
    let (status, body) = upload(
        &server,
        Some(&host_token),
        form("x", &[png(1), b"Slide 2: Pythagoras".to_vec()]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["fields"][0]["field"], "pages[1]");
    assert!(body["message"].as_str().unwrap().contains("PNG"));
    // A broken PDF: the renderer's complaint, and what to do.
    let (status, body) = upload(
        &server,
        Some(&host_token),
        form("x", &[b"%PDF-1.7 not really".to_vec()]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["fields"][0]["field"], "pages[0]");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("export the slides as images"));
    // No title, no pages.
    let untitled = Form::new().part("page", Part::bytes(png(1)).file_name("1.png"));
    let (status, body) = upload(&server, Some(&host_token), untitled).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["fields"][0]["field"], "title");
    let (status, body) = upload(&server, Some(&host_token), form("空", &[])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["fields"][0]["field"], "pages");
    // An expired host token is refused too.
    let host = server.demo().host;
    let expired = server.token(Role::Host, Some(host), "host", now() - 10);
    let (status, _) = upload(&server, Some(&expired), form("x", &[png(1)])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nothing of the refused uploads was kept.
    assert!(listed(&server, &host_token).await.is_empty());
}
