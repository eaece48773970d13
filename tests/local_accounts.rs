//! Schools without the education platform: an operator creates a local teacher account, the
//! teacher signs in with it and reaches the school's lessons; wrong passwords are refused and
//! slowed; only a salted hash is stored; a deleted account's open session ends.

mod common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_account_signs_in_to_its_schools_lessons_and_ends_when_deleted() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    let school = server
        .server
        .state
        .store
        .classroom(server.demo().host)
        .unwrap()
        .school;
    let create = |body: serde_json::Value| {
        http.post(server.http("/api/accounts"))
            .header("authorization", server.operator_auth())
            .json(&body)
            .send()
    };
    // Bad fields are named; a join link is not the operator's credential.
    let res = create(
        json!({"username": "Wang Li", "name": "王老师", "school": school.0, "password": "short"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["username", "password"], "{body}");
    let password = "长城内外 是故乡 2026";
    let res = create(
        json!({"username": "wang.li", "name": "王老师", "school": school.0, "password": password}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let account: serde_json::Value = res.json().await.unwrap();
    assert!(account.get("password").is_none() && account.get("password_hash").is_none());
    let res = create(
        json!({"username": "wang.li", "name": "另一位", "school": school.0, "password": password}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "a taken user name");
    let (_, phc) = server
        .server
        .state
        .store
        .account_for_sign_in("wang.li")
        .unwrap()
        .unwrap();
    assert!(
        phc.starts_with("$argon2id$") && !phc.contains(password),
        "{phc}"
    );

    // Signing in: a wrong password, then the right one.
    let sign_in = |password: &str| {
        http.post(server.http("/auth/local"))
            .json(&json!({"username": "wang.li", "password": password}))
            .send()
    };
    // A few mistakes are free (credential_backoff), then each try must wait.
    for _ in 0..=tongbu_server::credential_backoff::FREE_TRIES {
        let res = sign_in("长城内外 是故乡 2027").await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = sign_in(password).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "guessing is slowed"
    );
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    let res = sign_in(password).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let get = |path: &str| {
        http.get(server.http(path))
            .header("cookie", cookie.clone())
            .send()
    };
    let me: serde_json::Value = get("/api/me").await.unwrap().json().await.unwrap();
    assert_eq!(me["name"], "王老师");
    assert_eq!(me["school"], school.0);
    assert_eq!(me["operator"], false);
    let lessons: serde_json::Value = get("/api/teacher/lessons")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let demo = lessons["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == server.demo().session.id.0)
        .expect("the school's lesson");
    assert_eq!(demo["hosting"], true);
    // A teacher is not an operator.
    assert_eq!(
        get("/api/schools").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // The teacher forgot the password: the operator sets a new one. The open session (and
    // whoever else knew the old password) is out at its next call; the old password no longer
    // opens it, the new one does.
    let id = account["id"].as_i64().unwrap();
    let set_password = |password: &str| {
        http.put(server.http(&format!("/api/accounts/{id}/password")))
            .header("authorization", server.operator_auth())
            .json(&json!({ "password": password }))
            .send()
    };
    assert_eq!(
        set_password("short").await.unwrap().status(),
        StatusCode::BAD_REQUEST,
        "a new password is checked like the first"
    );
    assert_eq!(
        get("/api/me").await.unwrap().status(),
        StatusCode::OK,
        "a refused change changes nothing"
    );
    let renewed = "敕勒川 阴山下 天似穹庐";
    assert_eq!(
        set_password(renewed).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let res = get("/api/me").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let why: serde_json::Value = res.json().await.unwrap();
    assert!(
        why["message"]
            .as_str()
            .unwrap()
            .contains("password was changed"),
        "{why}"
    );
    assert_eq!(
        sign_in(password).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let res = sign_in(renewed).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let get = |path: &str| {
        http.get(server.http(path))
            .header("cookie", cookie.clone())
            .send()
    };
    assert_eq!(get("/api/me").await.unwrap().status(), StatusCode::OK);

    // Deleted by the operator: the open session ends at its next call.
    let res = http
        .delete(server.http(&format!("/api/accounts/{id}")))
        .header("authorization", server.operator_auth())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get("/api/me").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(password).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}
