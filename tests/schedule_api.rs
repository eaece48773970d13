//! The schedule's REST API against a real server and a real SQLite file: the operator
//! credential, field-level 400s, 409 on double booking with the clashing session, weekly series,
//! "this week" listings in Beijing time, join links that open exactly their session, and the
//! operator starting and ending a session that its participants see.

mod common;

use common::TestServer;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

use tongbu_load::{SignalClient, SignalError};
use tongbu_schedule::SessionState;
use tongbu_signal::{ErrorCode, ServerMessage};

struct Api<'a> {
    server: &'a TestServer,
    client: Client,
}

impl Api<'_> {
    fn new(server: &TestServer) -> Api<'_> {
        Api {
            server,
            client: Client::new(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, self.server.http(path))
            .header("authorization", self.server.operator_auth());
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
}

fn fields(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A Beijing school, an Inner Mongolia school and a classroom in each.
async fn two_schools(api: &Api<'_>) -> (i64, i64, i64, i64) {
    let (s, bj) = api
        .post(
            "/api/schools",
            json!({"name": "北京市第八中学", "region": "beijing", "district": "西城区"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{bj}");
    let (_, im) = api
        .post(
            "/api/schools",
            json!({"name": "科右中旗第一中学", "region": "inner_mongolia", "district": "科尔沁右翼中旗"}),
        )
        .await;
    let (s, c1) = api
        .post(
            "/api/classrooms",
            json!({"school": bj["id"], "name": "高一(2)班", "grade": 10, "capacity": 48}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c1}");
    let (_, c2) = api
        .post(
            "/api/classrooms",
            json!({"school": im["id"], "name": "高一(6)班", "grade": 10}),
        )
        .await;
    (
        bj["id"].as_i64().unwrap(),
        im["id"].as_i64().unwrap(),
        c1["id"].as_i64().unwrap(),
        c2["id"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_needs_the_operator_credential() {
    let server = TestServer::start().await;
    let client = Client::new();
    let res = client
        .get(server.http("/api/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("operator"),
        "{body}"
    );
    // A host's join token is not the operator credential.
    let host = server.token(
        tongbu_schedule::Role::Host,
        Some(server.demo().host),
        "h",
        common::now() + 60,
    );
    for bearer in [host.as_str(), "not-the-token"] {
        let res = client
            .post(server.http("/api/schools"))
            .header("authorization", format!("Bearer {bearer}"))
            .json(&json!({"name": "x", "region": "beijing", "district": "y"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let api = Api::new(&server);
    let (s, schools) = api.get("/api/schools").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        schools.as_array().unwrap().len() >= 5,
        "the demo schools: {schools}"
    );
    // The OpenAPI document is public and describes the operator scheme.
    let doc: Value = client
        .get(server.http("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/sessions/{id}/links"]["post"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["operator"]["scheme"],
        "bearer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_field_is_named_in_a_400() {
    let server = TestServer::start().await;
    let api = Api::new(&server);
    let (s, body) = api
        .post(
            "/api/schools",
            json!({"name": "", "region": "beijing", "district": "x", "timezone": "Mars/Base"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), ["name", "timezone"], "{body}");
    // Wrong types and unknown or missing fields name the field too.
    let (s, body) = api
        .post(
            "/api/schools",
            json!({"name": 5, "region": "beijing", "district": "x"}),
        )
        .await;
    assert_eq!(
        (s, fields(&body)),
        (StatusCode::BAD_REQUEST, vec!["name".to_string()]),
        "{body}"
    );
    let (s, body) = api
        .post(
            "/api/schools",
            json!({"name": "x", "region": "shanghai", "district": "x"}),
        )
        .await;
    assert_eq!(
        (s, fields(&body)),
        (StatusCode::BAD_REQUEST, vec!["region".to_string()]),
        "{body}"
    );
    let (_, body) = api
        .post("/api/schools", json!({"name": "x", "district": "x"}))
        .await;
    assert_eq!(fields(&body), ["region"], "{body}");
    let (_, body) = api
        .post(
            "/api/schools",
            json!({"name": "x", "region": "beijing", "district": "x", "city": 1}),
        )
        .await;
    assert_eq!(fields(&body), ["city"], "{body}");

    let (bj, im, c1, c2) = two_schools(&api).await;
    // A pair must join a Beijing school to an Inner Mongolia school.
    let (s, body) = api
        .post(
            "/api/pairs",
            json!({"beijing": im, "inner_mongolia": bj, "since": "2024-02-30"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        fields(&body),
        ["beijing", "inner_mongolia", "since"],
        "{body}"
    );
    let (s, pair) = api
        .post(
            "/api/pairs",
            json!({"beijing": bj, "inner_mongolia": im, "since": "2024-09-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pair}");
    assert_eq!(pair["inner_mongolia_name"], "科右中旗第一中学");
    let (s, _) = api
        .post(
            "/api/pairs",
            json!({"beijing": bj, "inner_mongolia": im, "since": "2024-09-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // A session with many problems: all of them, each with its field.
    let (s, body) = api
        .post(
            "/api/sessions",
            json!({
                "kind": "lecture", "title": "  ", "start": "2031-03-04 25:00",
                "duration_min": 1000, "host": c1, "classrooms": [c2, 999999, c2],
                "comparison": {
                    "left": {"classroom": c1, "title": "a", "teacher": "t"},
                    "right": {"classroom": c2, "title": "b", "teacher": "u"}
                }
            }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        fields(&body),
        [
            "title",
            "duration_min",
            "classrooms[1]",
            "classrooms[2]",
            "comparison",
            "start"
        ],
        "{body}"
    );
    let (s, body) = api.get("/api/sessions?range=month").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, body) = api.get("/api/sessions?date=tomorrow").await;
    assert_eq!(
        (s, fields(&body)),
        (StatusCode::BAD_REQUEST, vec!["date".to_string()]),
        "{body}"
    );
    let (s, body) = api.get("/api/sessions/first").await;
    assert_eq!(
        (s, fields(&body)),
        (StatusCode::BAD_REQUEST, vec!["id".to_string()]),
        "{body}"
    );
    // Nothing of the refused writes was stored.
    let (_, schools) = api.get("/api/schools").await;
    assert!(schools.as_array().unwrap().iter().all(|s| s["name"] != "x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_booking_is_refused_with_the_clashing_session() {
    let server = TestServer::start().await;
    let api = Api::new(&server);
    let (bj, _im, c1, c2) = two_schools(&api).await;
    let (s, first) = api
        .post(
            "/api/sessions",
            json!({"kind": "lesson", "title": "函数的单调性", "subject": "数学", "grade": 10,
                   "start": "2031-03-04 10:00", "duration_min": 45, "host": c1,
                   "classrooms": [c2]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let first = &first[0];
    assert_eq!(first["start_local"], "2031-03-04 10:00");
    assert_eq!(first["start"], "2031-03-04T02:00:00Z", "stored in UTC");
    assert_eq!(first["classroom_names"][0], "科右中旗第一中学 · 高一(6)班");

    // Another school's lesson wants the same remote classroom at 10:30.
    let (_, other) = api
        .post(
            "/api/schools",
            json!({"name": "北京市第四中学", "region": "beijing", "district": "西城区"}),
        )
        .await;
    let (_, c3) = api
        .post(
            "/api/classrooms",
            json!({"school": other["id"], "name": "高一(1)班"}),
        )
        .await;
    let (s, body) = api
        .post(
            "/api/sessions",
            json!({"kind": "lesson", "title": "集合", "start": "2031-03-04T02:30:00Z",
                   "duration_min": 45, "host": c3["id"], "classrooms": [c2]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "clash");
    assert_eq!(body["clash"]["session"], first["id"]);
    assert_eq!(body["clash"]["classroom"], c2);
    assert_eq!(body["clash"]["start_local"], "2031-03-04 10:00");
    assert!(
        body["message"].as_str().unwrap().contains("函数的单调性"),
        "{body}"
    );
    // Back to back is fine.
    let (s, _) = api
        .post(
            "/api/sessions",
            json!({"kind": "lesson", "title": "集合", "start": "2031-03-04 10:45",
                   "duration_min": 45, "host": c3["id"], "classrooms": [c2]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    // A weekly series over four weeks, one week excepted, clashing nowhere.
    let (s, series) = api
        .post(
            "/api/sessions",
            json!({"kind": "lesson", "title": "物理", "start": "2031-03-05 14:00",
                   "duration_min": 45, "host": c1, "classrooms": [c2],
                   "repeat": {"until": "2031-03-26", "except": ["2031-03-12"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{series}");
    let starts: Vec<&str> = series
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start_local"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        ["2031-03-05 14:00", "2031-03-19 14:00", "2031-03-26 14:00"]
    );
    // A series that would put c2 in two places in its second week is refused whole.
    let (s, body) = api
        .post(
            "/api/sessions",
            json!({"kind": "lesson", "title": "化学", "start": "2031-02-26 14:30",
                   "duration_min": 45, "host": c3["id"], "classrooms": [c2],
                   "repeat": {"until": "2031-03-12"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["clash"]["start_local"], "2031-03-05 14:00");

    // This week for the Beijing school: Monday 3 March to Sunday 9 March, Beijing time.
    let (s, week) = api
        .get(&format!(
            "/api/sessions?range=week&date=2031-03-06&school={bj}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{week}");
    let titles: Vec<&str> = week
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["函数的单调性", "物理"], "{week}");
    let (_, today) = api
        .get(&format!(
            "/api/sessions?range=today&date=2031-03-04&classroom={c2}"
        ))
        .await;
    let titles: Vec<&str> = today
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["函数的单调性", "集合"]);

    // Moving the first lesson onto the 集合 slot clashes; moving it an hour earlier does not.
    let mut moved = json!({"kind": "lesson", "title": "函数的单调性", "start": "2031-03-04 10:30",
                           "duration_min": 45, "host": c1, "classrooms": [c2]});
    let id = first["id"].as_i64().unwrap();
    let (s, _) = api
        .call(
            Method::PUT,
            &format!("/api/sessions/{id}"),
            Some(moved.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    moved["start"] = json!("2031-03-04 09:00");
    let (s, body) = api
        .call(Method::PUT, &format!("/api/sessions/{id}"), Some(moved))
        .await;
    assert_eq!(
        (s, &body["start_local"]),
        (StatusCode::OK, &json!("2031-03-04 09:00")),
        "{body}"
    );
    // Cancelling frees the slot; a classroom in use cannot be deleted.
    let (s, _) = api
        .call(Method::DELETE, &format!("/api/classrooms/{c2}"), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = api
        .call(Method::DELETE, &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = api
        .post(
            "/api/sessions",
            json!({"kind": "lesson", "title": "补课", "start": "2031-03-04 09:00",
                   "duration_min": 45, "host": c1, "classrooms": [c2]}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the cancelled slot is free again: {body}"
    );
    assert!(body[0]["id"].as_i64().unwrap() > id, "ids are never reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_open_their_session_and_the_operator_starts_and_ends_it() {
    let server = TestServer::start().await;
    let api = Api::new(&server);
    let (_, _, c1, c2) = two_schools(&api).await;
    let now = common::now();
    let start = tongbu_schedule::time::rfc3339_utc(now - 60);
    let (s, created) = api
        .post(
            "/api/sessions",
            json!({"kind": "research", "title": "同课异构:函数", "start": start,
                   "duration_min": 60, "host": c1, "classrooms": [c2], "people": ["王老师"],
                   "record": true,
                   "comparison": {
                       "left": {"classroom": c1, "title": "函数 · 情境", "teacher": "李老师"},
                       "right": {"classroom": c2, "title": "函数 · 探究", "teacher": "包老师"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created[0]["id"].as_i64().unwrap();
    assert_eq!(created[0]["comparison"]["right"]["teacher"], "包老师");
    assert_eq!(created[0]["record"], true, "recorded when it goes live");
    let (s, links) = api
        .post(&format!("/api/sessions/{id}/links"), json!(null))
        .await;
    assert_eq!(s, StatusCode::OK, "{links}");
    let links = links.as_array().unwrap();
    let roles: Vec<(&str, &str)> = links
        .iter()
        .map(|l| (l["role"].as_str().unwrap(), l["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            ("host", "北京市第八中学 · 高一(2)班"),
            ("classroom", "科右中旗第一中学 · 高一(6)班"),
            ("observer", "王老师"),
            ("observer", "观察员 Observer"),
        ]
    );
    let token = |i: usize| {
        links[i]["url"]
            .as_str()
            .unwrap()
            .strip_prefix("/lesson.html?token=")
            .unwrap()
            .to_string()
    };
    let mut classroom = SignalClient::connect(&server.ws_url(&token(1)))
        .await
        .unwrap();
    let ServerMessage::Joined { session, .. } = classroom.join().await.unwrap() else {
        unreachable!()
    };
    assert_eq!(
        session.id, id,
        "the link opens its own session, not the demo's"
    );

    // The operator starts and ends it; the classroom sees both, and the end is persisted.
    let (s, body) = api
        .post(&format!("/api/sessions/{id}/start"), json!(null))
        .await;
    assert_eq!(
        (s, &body["state"]),
        (StatusCode::OK, &json!("live")),
        "{body}"
    );
    classroom
        .recv_until(Duration::from_secs(5), |m| {
            matches!(
                m,
                ServerMessage::SessionState {
                    state: SessionState::Live
                }
            )
            .then_some(())
        })
        .await
        .expect("the classroom is told the session is live");
    // Its schedule asks for a recording: it starts as the session goes live.
    classroom
        .recv_until(Duration::from_secs(5), |m| {
            matches!(
                m,
                ServerMessage::Recording {
                    recording: true,
                    ..
                }
            )
            .then_some(())
        })
        .await
        .expect("the classroom is told the session is recorded");
    let (s, _) = api
        .post(&format!("/api/sessions/{id}/start"), json!(null))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "already live");
    let (s, _) = api
        .post(&format!("/api/sessions/{id}/end"), json!(null))
        .await;
    assert_eq!(s, StatusCode::OK);
    classroom
        .recv_until(Duration::from_secs(5), |m| {
            matches!(
                m,
                ServerMessage::SessionState {
                    state: SessionState::Ended
                }
            )
            .then_some(())
        })
        .await
        .expect("the classroom is told the session ended");
    assert_eq!(
        server
            .server
            .state
            .store
            .session(tongbu_schedule::SessionId(id))
            .unwrap()
            .state,
        SessionState::Ended
    );
    // The room closes with the session: the connection ends and its media transports go.
    match classroom
        .recv_until(Duration::from_secs(5), |_| None::<()>)
        .await
    {
        Err(SignalError::Closed) => {}
        other => panic!("the server closes an ended session's connections, got {other:?}"),
    }
    let mut participants = u64::MAX;
    for _ in 0..50 {
        participants = server.server.state.edge.stats().await.unwrap().participants as u64;
        if participants == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        participants, 0,
        "the media edge let go of the ended session"
    );
    // An ended session's links no longer open it.
    let mut late = SignalClient::connect(&server.ws_url(&token(2)))
        .await
        .unwrap();
    match late.join().await {
        Err(SignalError::Server { code, .. }) => assert_eq!(code, ErrorCode::SessionClosed),
        other => panic!("an ended session refuses joins, got {other:?}"),
    }

    // A session next week cannot be started now.
    let next_week = tongbu_schedule::time::rfc3339_utc(now + 7 * 86_400);
    let (_, later) = api
        .post(
            "/api/sessions",
            json!({"kind": "lesson", "title": "下周", "start": next_week, "duration_min": 45,
                   "host": c1, "classrooms": [c2]}),
        )
        .await;
    let later = later[0]["id"].as_i64().unwrap();
    let (s, body) = api
        .post(&format!("/api/sessions/{later}/start"), json!(null))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(body["error"], "wrong_state", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classroom_sees_its_timetable_and_joins_only_in_the_window() {
    let server = TestServer::start().await;
    let api = Api::new(&server);
    let (_, _, c1, c2) = two_schools(&api).await;
    let now = common::now();
    let at = |secs: i64| tongbu_schedule::time::rfc3339_utc(secs);
    for (title, start) in [("正在上", now - 300), ("两小时后", now + 2 * 3600)] {
        let (s, body) = api
            .post(
                "/api/sessions",
                json!({"kind": "lesson", "title": title, "start": at(start),
                       "duration_min": 45, "host": c1, "classrooms": [c2]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    let (s, link) = api
        .post(&format!("/api/classrooms/{c2}/schedule-link"), json!(null))
        .await;
    assert_eq!(s, StatusCode::OK, "{link}");
    let token = link["url"]
        .as_str()
        .unwrap()
        .strip_prefix("/schedule.html?token=")
        .unwrap()
        .to_string();
    // No operator credential: the schedule link is the credential.
    let client = Client::new();
    let get_query = |query: String| {
        let client = client.clone();
        let url = server.http(&format!("/api/timetable?{query}"));
        async move {
            let res = client.get(url).send().await.unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    let get = |token: String| get_query(format!("token={token}"));
    let (s, table) = get(token.clone()).await;
    assert_eq!(s, StatusCode::OK, "{table}");
    assert_eq!(table["classroom"]["name"], "高一(6)班");
    // Each from the timetable of its own day (Beijing time): the two may fall in two weeks.
    let zone = tongbu_schedule::time::zone("Asia/Shanghai").unwrap();
    let find = |title: &'static str, start: i64| {
        let day = tongbu_schedule::time::local_date(start, &zone).unwrap();
        let query = format!("token={token}&range=today&date={day}");
        let get = get_query(query);
        async move {
            let (s, table) = get.await;
            assert_eq!(s, StatusCode::OK, "{table}");
            table["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["title"] == title)
                .unwrap_or_else(|| panic!("{title} is on the timetable of its day: {table}"))
                .clone()
        }
    };
    let now_entry = find("正在上", now - 300).await;
    assert_eq!(now_entry["role"], "classroom");
    let join = now_entry["join_url"]
        .as_str()
        .expect("open now: a join link");
    let later = find("两小时后", now + 2 * 3600).await;
    assert!(later["join_url"].is_null(), "not open yet: no link");
    assert_eq!(
        later["opens_utc"].as_i64().unwrap(),
        later["start_utc"].as_i64().unwrap() - 600,
        "opens 10 minutes before"
    );
    // The join link it hands out opens the session as this classroom.
    let join_token = join.strip_prefix("/lesson.html?token=").unwrap();
    let mut c = SignalClient::connect(&server.ws_url(join_token))
        .await
        .unwrap();
    let ServerMessage::Joined { you, session, .. } = c.join().await.unwrap() else {
        unreachable!()
    };
    assert_eq!(session.id, now_entry["id"].as_i64().unwrap());
    assert_eq!(you.name, "科右中旗第一中学 · 高一(6)班");
    // A schedule link is not a join token, and a join token is not a schedule link.
    let mut wrong = SignalClient::connect(&server.ws_url(&token)).await.unwrap();
    match wrong.join().await {
        Err(SignalError::Server { code, .. }) => assert_eq!(code, ErrorCode::InvalidToken),
        other => panic!("a schedule link must not join, got {other:?}"),
    }
    let (s, body) = get(join_token.to_string()).await;
    assert_eq!(
        (s, &body["error"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_token"))
    );
    let (s, _) = get(format!("{token}x")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_follow_the_session_as_it_changes() {
    let server = TestServer::start().await;
    let api = Api::new(&server);
    let (_, im, c1, c2) = two_schools(&api).await;
    let (_, c3) = api
        .post(
            "/api/classrooms",
            json!({"school": im, "name": "高一(8)班"}),
        )
        .await;
    let now = common::now();
    let body = json!({"kind": "lesson", "title": "改动",
                      "start": tongbu_schedule::time::rfc3339_utc(now - 60),
                      "duration_min": 45, "host": c1, "classrooms": [c2, c3["id"]]});
    let (_, created) = api.post("/api/sessions", body.clone()).await;
    let id = created[0]["id"].as_i64().unwrap();
    let (_, links) = api
        .post(&format!("/api/sessions/{id}/links"), json!(null))
        .await;
    let token_of = |name: &str| {
        links
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"].as_str().unwrap().ends_with(name))
            .unwrap()["url"]
            .as_str()
            .unwrap()
            .strip_prefix("/lesson.html?token=")
            .unwrap()
            .to_string()
    };
    // 高一(8)班 is taken off the lesson: its link no longer opens it.
    let mut changed = body;
    changed["classrooms"] = json!([c2]);
    let (s, _) = api
        .call(Method::PUT, &format!("/api/sessions/{id}"), Some(changed))
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut removed = SignalClient::connect(&server.ws_url(&token_of("高一(8)班")))
        .await
        .unwrap();
    match removed.join().await {
        Err(SignalError::Server { code, message }) => {
            assert_eq!(code, ErrorCode::InvalidToken);
            assert!(message.contains("no longer takes part"), "{message}");
        }
        other => panic!("a removed classroom must not join, got {other:?}"),
    }
    // A client that connects while the session runs but sends `join` after it ended is refused.
    let mut slow = SignalClient::connect(&server.ws_url(&token_of("高一(6)班")))
        .await
        .unwrap();
    let (s, _) = api
        .post(&format!("/api/sessions/{id}/end"), json!(null))
        .await;
    assert_eq!(s, StatusCode::OK);
    match slow.join().await {
        Err(SignalError::Server { code, .. }) => assert_eq!(code, ErrorCode::SessionClosed),
        other => panic!("a join after the end must be refused, got {other:?}"),
    }
}

/// Every route the API router declares is in the OpenAPI document (so this test covers a new
/// route as soon as it exists), and every one the document marks as the operator's refuses a
/// request without the credential and one with a wrong credential, whatever its method.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operator_route_refuses_without_the_credential() {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(tongbu_server::api::ApiDoc::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    // The routes as the router declares them (its source: a route added there is seen here).
    let router = include_str!("../crates/tongbu-server/src/api/mod.rs");
    let declared: Vec<&str> = router
        .split(".route(")
        .skip(1)
        .filter_map(|r| r.trim_start().strip_prefix('"')?.split('"').next())
        .collect();
    assert!(declared.len() >= 20, "{declared:?}");
    // Served without the OpenAPI document's description: the document itself and the live
    // feed's WebSocket (a one-use ticket, from POST /api/live-ticket).
    let undocumented = ["/api/openapi.json", "/api/sessions/{id}/health/live"];
    for path in &declared {
        assert!(
            paths.contains_key(*path) || undocumented.contains(path),
            "{path} is routed but not in the OpenAPI document"
        );
    }

    let mut routes = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let operator_only = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("operator").is_some()));
            if operator_only {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                routes.push((method, path.clone()));
            }
        }
    }
    assert!(
        routes.len() >= 28,
        "{} operator route×method pairs",
        routes.len()
    );

    let server = TestServer::start().await;
    let client = Client::new();
    let send = |method: &Method, path: &str, auth: Option<&str>| {
        let url = server.http(&path.replace("{id}", "1").replace("{digest}", "00"));
        let mut req = client.request(method.clone(), url).json(&json!({}));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.send()
    };
    for (method, path) in &routes {
        let res = send(method, path, None).await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} without the credential"
        );
    }
    // Wrong credentials make the address wait (429) after a few: refused either way, never
    // served.
    let mut wrong = Vec::new();
    for (method, path) in &routes {
        let res = send(method, path, Some("Bearer not-the-operator-token-at-all")).await;
        let status = res.unwrap().status();
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{method} {path} with a wrong credential: {status}"
        );
        wrong.push(status.as_u16());
    }
    eprintln!(
        "{} operator route×method pairs refused without the credential; with a wrong one: {wrong:?}",
        routes.len()
    );
    assert_eq!(
        wrong[0], 401,
        "the first wrong credential is judged, not waited on"
    );
}
