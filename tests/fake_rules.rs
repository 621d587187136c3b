//! The fake providers enforce the real APIs' rules with the real status codes and bodies
//! (research/apis.md §6), deterministically, and inject the faults they are told to.
//! Every test starts its own fake on a random port through the library; the last one runs the
//! real binary the way the acceptance script and the demo do.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use reqwest::StatusCode;
use serde_json::Value;
use syncdeck::catalog::DEEP_PAGING_ARTIST;
use syncdeck::fake::fixtures::{
    TM_EMPTY_PAGE_JSON, TRAP_ARTIST_NAME, TRAP_ATTRACTION_ID, TRAP_MBID, TRAP_SPOTIFY_ARTIST_ID,
};
use syncdeck::fake::{
    self, FakeConfig, FakeServer, FaultRates, FaultSpec, Profile, Rate, endpoints,
};

fn anchor() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

/// A small catalog at a fixed date, with the limiters off so tests can send what they like.
fn config() -> FakeConfig {
    FakeConfig {
        artists: 50,
        anchor: Some(anchor()),
        tm_rate: None,
        spotify_rate: None,
        setlistfm_rate: None,
        ..FakeConfig::default()
    }
}

async fn start(config: FakeConfig) -> FakeServer {
    fake::start(config).await.expect("the fake starts")
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {}", &self.body[..self.body.len().min(300)])
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn send(rb: reqwest::RequestBuilder) -> Answer {
    let r = rb.send().await.expect("an answer");
    Answer {
        status: r.status(),
        headers: r.headers().clone(),
        body: r.text().await.expect("a body"),
    }
}

async fn get(url: &str) -> Answer {
    send(reqwest::Client::new().get(url)).await
}

fn tm(server: &FakeServer, path_and_query: &str) -> String {
    let sep = if path_and_query.contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{}/discovery/v2/{path_and_query}{sep}apikey={}",
        server.ticketmaster_base_url(),
        server.keys().ticketmaster_api_key
    )
}

async fn token(server: &FakeServer) -> String {
    let a = send(
        reqwest::Client::new()
            .post(format!("{}/api/token", server.spotify_accounts_base_url()))
            .basic_auth(
                &server.keys().spotify_client_id,
                Some(&server.keys().spotify_client_secret),
            )
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.json()["access_token"].as_str().unwrap().to_string()
}

async fn spotify(server: &FakeServer, token: &str, path_and_query: &str) -> Answer {
    send(
        reqwest::Client::new()
            .get(format!(
                "{}/v1/{path_and_query}",
                server.spotify_api_base_url()
            ))
            .bearer_auth(token),
    )
    .await
}

async fn setlistfm(server: &FakeServer, path_and_query: &str, json: bool) -> Answer {
    let mut rb = reqwest::Client::new()
        .get(format!("{}/{path_and_query}", server.setlistfm_base_url()))
        .header("x-api-key", &server.keys().setlistfm_api_key);
    if json {
        rb = rb.header("accept", "application/json");
    }
    send(rb).await
}

fn error_code(v: &Value) -> &str {
    v["errors"][0]["code"].as_str().unwrap_or("")
}

const RATE_HEADERS: [&str; 4] = [
    "rate-limit",
    "rate-limit-available",
    "rate-limit-over",
    "rate-limit-reset",
];

// ---------------------------------------------------------------------------------------------
// Ticketmaster

#[tokio::test]
async fn tm_refuses_missing_and_wrong_keys_with_the_gateway_fault() {
    let s = start(config()).await;
    for url in [
        format!(
            "{}/discovery/v2/events.json?keyword=x",
            s.ticketmaster_base_url()
        ),
        format!(
            "{}/discovery/v2/events.json?keyword=x&apikey=wrong",
            s.ticketmaster_base_url()
        ),
    ] {
        let a = get(&url).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            a.json(),
            serde_json::json!({"fault": {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}})
        );
        for h in RATE_HEADERS {
            assert!(a.header(h).is_none(), "{h} on a 401");
        }
    }
}

#[tokio::test]
async fn tm_enforces_size_depth_date_and_id_rules() {
    let s = start(config()).await;

    let a = get(&tm(&s, "events.json?size=200")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&a.json()), "DIS1036");
    assert_eq!(
        a.json()["errors"][0]["detail"],
        "Query param \"size\" must be less than 200"
    );

    let a = get(&tm(&s, "events.json?size=100&page=10")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let v = a.json();
    assert_eq!(error_code(&v), "DIS1035");
    assert_eq!(
        v["errors"][0]["detail"],
        "API Limits Exceeded: Max paging depth exceeded. (page * size) must be less than 1,000"
    );
    assert_eq!(v["errors"][0]["status"], "400 BAD_REQUEST");
    assert_eq!(
        v["errors"][0]["_links"]["about"]["href"],
        "/discovery/v2/errors.html#DIS1035"
    );
    assert_eq!(
        get(&tm(&s, "events.json?size=199&page=5")).await.status,
        StatusCode::OK
    );

    for bad in [
        "2026-01-01",
        "2026-10-06T15:06:52.000Z",
        "2026-10-06T15:06:52",
    ] {
        let a = get(&tm(&s, &format!("events.json?startDateTime={bad}"))).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        let v = a.json();
        assert_eq!(error_code(&v), "DIS1015");
        assert!(
            v["errors"][0]["_links"]["self"].is_object(),
            "DIS1015 links `self`"
        );
    }
    let a = get(&tm(&s, "events.json?endDateTime=2027-01-01T00:00:00")).await;
    assert_eq!(error_code(&a.json()), "DIS1015");
    let a = get(&tm(
        &s,
        "events.json?startDateTime=2026-12-01T00:00:00Z&endDateTime=2027-12-01T00:00:00Z",
    ))
    .await;
    assert_eq!(a.status, StatusCode::OK);

    for path in [
        "events/Zz9NoSuchEvent00.json",
        "attractions/K8vZ917zzzz.json",
        "venues/KovZpZnope.json",
    ] {
        let a = get(&tm(&s, path)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        let v = a.json();
        assert_eq!(error_code(&v), "DIS1004");
        assert_eq!(v["errors"][0]["status"], "404");
        assert!(
            v["errors"][0]["detail"]
                .as_str()
                .unwrap()
                .starts_with("Resource not found with provided criteria (locale=en-us, id=")
        );
    }
}

#[tokio::test]
async fn tm_empty_results_have_no_embedded_key() {
    let s = start(config()).await;
    let expected: Value = serde_json::from_str(TM_EMPTY_PAGE_JSON).unwrap();
    for path in [
        "attractions.json?keyword=zzzznothingzzzz",
        "events.json?attractionId=K8vZ917zzzz",
        "events.json?includeTBA=only&includeTBD=only",
    ] {
        let a = get(&tm(&s, path)).await;
        assert_eq!(a.status, StatusCode::OK);
        let v = a.json();
        assert!(v.get("_embedded").is_none(), "{path}: {v}");
        assert_eq!(v["page"]["totalElements"], 0);
        assert_eq!(v["page"]["totalPages"], 0);
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&v), keys(&expected));
        let href = v["_links"]["self"]["href"].as_str().unwrap();
        assert!(
            href.starts_with("/discovery/v2/") && !href.contains("apikey"),
            "{href}"
        );
    }
}

#[tokio::test]
async fn tm_rate_limit_headers_come_on_200_only() {
    let s = start(config()).await;
    let a = get(&tm(&s, "attractions.json?keyword=a")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("rate-limit"), Some("5000"));
    assert_eq!(a.header("rate-limit-available"), Some("4999"));
    assert_eq!(a.header("rate-limit-over"), Some("0"));
    let reset: u64 = a.header("rate-limit-reset").unwrap().parse().unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis() as u64;
    assert!(
        reset > now_ms + 23 * 3600 * 1000,
        "epoch milliseconds a day ahead"
    );
    for path in ["events.json?size=500", "events/nope.json"] {
        let a = get(&tm(&s, path)).await;
        assert!(!a.status.is_success());
        for h in RATE_HEADERS {
            assert!(a.header(h).is_none(), "{h} on {}", a.status);
        }
    }
    // 400s count against the quota.
    let a = get(&tm(&s, "attractions.json?keyword=a")).await;
    assert_eq!(a.header("rate-limit-available"), Some("4996"));
}

/// Every page of one search, `sort=id,asc`, checking the order is strict across pages.
async fn sweep(s: &FakeServer, query: &str, size: u32) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut page = 0;
    loop {
        let a = get(&tm(
            s,
            &format!("events.json?{query}&sort=id,asc&size={size}&page={page}"),
        ))
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let v = a.json();
        let events = v["_embedded"]["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        out.extend(events);
        let pages = v["page"]["totalPages"].as_u64().unwrap();
        page += 1;
        if page >= pages {
            break;
        }
    }
    let ids: Vec<&str> = out.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "id,asc is strict: {ids:?}"
    );
    out
}

#[tokio::test]
async fn tm_events_cover_the_catalog_exactly_once() {
    let s = start(config()).await;
    let catalog = s.catalog().clone();
    let mut checked = 0;
    for artist in catalog
        .artists()
        .iter()
        .take(20)
        .filter(|a| a.index != DEEP_PAGING_ARTIST)
    {
        let expected: HashSet<String> = catalog
            .events(artist.index)
            .into_iter()
            .map(|e| e.id)
            .collect();
        let q = format!("attractionId={}", artist.ticketmaster_id);
        let mut got: Vec<Value> = sweep(
            &s,
            &format!("{q}&startDateTime=2026-12-01T00:00:00Z&endDateTime=2030-01-01T00:00:00Z"),
            3,
        )
        .await;
        got.extend(sweep(&s, &format!("{q}&includeTBA=only"), 3).await);
        got.extend(sweep(&s, &format!("{q}&includeTBD=only"), 3).await);
        let ids: Vec<String> = got
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            ids.len(),
            expected.len(),
            "{}: each event once",
            artist.name
        );
        assert_eq!(ids.into_iter().collect::<HashSet<_>>(), expected);
        for e in &got {
            let start = &e["dates"]["start"];
            let undated = start["dateTBA"] == true || start["dateTBD"] == true;
            assert_eq!(start.get("localDate").is_none(), undated, "{e}");
            if start["timeTBA"] == true {
                assert!(start.get("dateTime").is_none() && start.get("localTime").is_none());
            }
            let venue = &e["_embedded"]["venues"][0];
            if let Some(loc) = venue.get("location") {
                assert!(loc["latitude"].is_string() && loc["longitude"].is_string());
            }
            assert!(
                e["_embedded"]["attractions"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
            );
            let widest = e["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["width"].as_u64().unwrap())
                .max()
                .unwrap();
            assert_ne!(
                e["images"][0]["width"].as_u64().unwrap(),
                widest,
                "widest not first"
            );
            assert!(
                !e["_links"]["self"]["href"]
                    .as_str()
                    .unwrap()
                    .contains("apikey")
            );
        }
        checked += expected.len();
    }
    assert!(checked > 30, "enough events looked at ({checked})");

    // The deep-paging artist: 2,500 dated events, more than the depth lets one search reach.
    let deep = &catalog.artists()[DEEP_PAGING_ARTIST];
    let a = get(&tm(
        &s,
        &format!(
            "events.json?attractionId={}&size=199&page=5",
            deep.ticketmaster_id
        ),
    ))
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["page"]["totalElements"], 2500);
    let a = get(&tm(
        &s,
        &format!(
            "events.json?attractionId={}&size=199&page=6",
            deep.ticketmaster_id
        ),
    ))
    .await;
    assert_eq!(error_code(&a.json()), "DIS1035");
}

#[tokio::test]
async fn tm_tba_and_tbd_follow_the_observed_include_rules() {
    let s = start(config()).await;
    let ids = |v: Value| -> Vec<String> {
        v["_embedded"]["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let q = format!("events.json?attractionId={TRAP_ATTRACTION_ID}&size=50");
    let default = ids(get(&tm(&s, &q)).await.json());
    assert!(
        !default
            .iter()
            .any(|i| i == "vvG1TRAPtbadate1" || i == "vvG1TRAPtbddate1"),
        "{default:?}"
    );
    assert!(
        default.iter().any(|i| i == "vvG1TRAPtimetba1"),
        "a time-TBA event is dated"
    );
    let tba = ids(get(&tm(&s, &format!("{q}&includeTBA=only"))).await.json());
    assert_eq!(tba, vec!["vvG1TRAPtbadate1"]);
    let tbd = ids(get(&tm(&s, &format!("{q}&includeTBD=only"))).await.json());
    assert_eq!(tbd, vec!["vvG1TRAPtbddate1"]);
    let both = get(&tm(&s, &format!("{q}&includeTBA=only&includeTBD=only")))
        .await
        .json();
    assert!(both.get("_embedded").is_none());
    let yes = ids(get(&tm(&s, &format!("{q}&includeTBA=yes"))).await.json());
    assert_eq!(yes.len(), default.len() + 1);
    let bad = get(&tm(&s, &format!("{q}&includeTBA=maybe"))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tm_fixture_events_carry_the_traps() {
    let s = start(config()).await;
    // Five per page: the duplicate of the first event falls on the second page.
    let mut pages = Vec::new();
    for page in 0..3 {
        let v = get(&tm(
            &s,
            &format!("events.json?attractionId={TRAP_ATTRACTION_ID}&size=5&page={page}"),
        ))
        .await
        .json();
        pages.push(
            v["_embedded"]["events"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }
    let on = |p: usize, id: &str| pages[p].iter().any(|e| e["id"] == id);
    assert!(
        on(0, "vvG1TRAPonsale01") && on(1, "vvG1TRAPonsale01"),
        "duplicate across pages"
    );
    let all: Vec<Value> = pages.concat();
    let by_id = |id: &str| all.iter().find(|e| e["id"] == id).unwrap().clone();
    assert!(
        by_id("vvG1TRAPnoattr01")["_embedded"]
            .get("attractions")
            .is_none()
    );
    assert_eq!(
        by_id("vvG1TRAPcancel01")["dates"]["status"]["code"],
        "cancelled"
    );
    assert_eq!(
        by_id("vvG1TRAPcancel02")["dates"]["status"]["code"],
        "canceled"
    );
    assert!(
        by_id("vvG1TRAPcancel02")["_embedded"]["venues"][0]
            .get("name")
            .is_none()
    );
    let lb = &by_id("vvG1TRAPcancel01")["_embedded"]["venues"][0];
    assert!(lb.get("location").is_none() && lb["address"].get("line1").is_none());
    assert_eq!(lb["city"]["name"], " Long Beach");
    assert_eq!(
        by_id("vvG1TRAPplaceh01")["sales"]["public"]["startDateTime"],
        "1900-01-01T18:00:00Z"
    );
    let two = by_id("vvG1TRAPtwoacts1");
    assert_eq!(two["_embedded"]["attractions"].as_array().unwrap().len(), 2);

    let a = get(&tm(&s, &format!("attractions/{TRAP_ATTRACTION_ID}.json")))
        .await
        .json();
    assert_eq!(
        a["externalLinks"]["spotify"][0]["url"],
        format!("https://open.spotify.com/artist/{TRAP_SPOTIFY_ARTIST_ID}")
    );
    assert_eq!(
        a["externalLinks"]["musicbrainz"][0],
        serde_json::json!({"id": TRAP_MBID})
    );
    let v = get(&tm(&s, "venues/Z698xZTRAPnl.json")).await;
    assert_eq!(v.status, StatusCode::OK);
    assert!(v.json().get("name").is_none());
    // Two attractions share the trap name.
    let found = get(&tm(&s, "attractions.json?keyword=trap%20FIXTURE"))
        .await
        .json();
    assert_eq!(found["page"]["totalElements"], 2, "{found}");
}

#[tokio::test]
async fn tm_attractions_carry_external_links_as_the_catalog_says() {
    let s = start(config()).await;
    let catalog = s.catalog().clone();
    for a in catalog.artists().iter().take(30) {
        let v = get(&tm(&s, &format!("attractions/{}.json", a.ticketmaster_id)))
            .await
            .json();
        assert_eq!(v["id"], a.ticketmaster_id.as_str());
        let links = &v["externalLinks"];
        match (&a.musicbrainz_id, a.tm_links_musicbrainz) {
            (Some(mbid), true) => {
                assert_eq!(links["musicbrainz"], serde_json::json!([{"id": mbid}]))
            }
            _ => assert!(links.get("musicbrainz").is_none()),
        }
        match (a.spotify_url(), a.tm_links_spotify) {
            (Some(url), true) => assert_eq!(links["spotify"][0]["url"], url.as_str()),
            _ => assert!(links.get("spotify").is_none()),
        }
    }
    // Case-insensitive substring of the name.
    let name = &catalog.artists()[12].name;
    let part: String = name.to_uppercase().chars().skip(1).take(5).collect();
    let url =
        reqwest::Url::parse_with_params(&tm(&s, "attractions.json"), &[("keyword", part.as_str())])
            .unwrap();
    let v = get(url.as_str()).await.json();
    let ids: Vec<&str> = v["_embedded"]["attractions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&catalog.artists()[12].ticketmaster_id.as_str()));
}

// ---------------------------------------------------------------------------------------------
// Spotify

#[tokio::test]
async fn spotify_token_endpoint_answers_like_accounts() {
    let s = start(config()).await;
    let url = format!("{}/api/token", s.spotify_accounts_base_url());
    let post = |id: &str, secret: &str, form: &[(&str, &str)]| {
        reqwest::Client::new()
            .post(&url)
            .basic_auth(id, Some(secret))
            .form(
                &form
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
    };
    let grant = [("grant_type", "client_credentials")];
    let keys = s.keys().clone();

    let a = send(post("wrong", "wrong", &grant)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.json(),
        serde_json::json!({"error": "invalid_client", "error_description": "Invalid client"})
    );
    let a = send(post(&keys.spotify_client_id, "wrong", &grant)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["error_description"], "Invalid client secret");
    let a = send(post(
        &keys.spotify_client_id,
        &keys.spotify_client_secret,
        &[],
    ))
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["error"], "unsupported_grant_type");

    let a = send(post(
        &keys.spotify_client_id,
        &keys.spotify_client_secret,
        &grant,
    ))
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert!(v["access_token"].as_str().unwrap().len() > 20);
}

#[tokio::test]
async fn spotify_tokens_expire_after_the_ttl() {
    let s = start(FakeConfig {
        token_ttl: Duration::from_secs(1),
        ..config()
    })
    .await;
    let t = token(&s).await;
    let artist = s.catalog().artists()[2].spotify_id.clone().unwrap();
    assert_eq!(
        spotify(&s, &t, &format!("artists/{artist}")).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let a = spotify(&s, &t, &format!("artists/{artist}")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.json(),
        serde_json::json!({"error": {"status": 401, "message": "The access token expired"}})
    );
    let a = spotify(&s, "made-up-token", &format!("artists/{artist}")).await;
    assert_eq!(a.json()["error"]["message"], "Invalid access token");
    let a = get(&format!("{}/v1/artists/{artist}", s.spotify_api_base_url())).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.json()["error"]["message"], "No token provided");
    // A fresh token works again.
    let t = token(&s).await;
    assert_eq!(
        spotify(&s, &t, &format!("artists/{artist}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn spotify_dev_mode_caps_limits_and_strips_fields() {
    let s = start(config()).await;
    let t = token(&s).await;
    let catalog = s.catalog().clone();
    let a = spotify(&s, &t, "search?q=a&type=artist&limit=50").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.json(),
        serde_json::json!({"error": {"status": 400, "message": "Invalid limit"}})
    );
    assert_eq!(
        spotify(&s, &t, "search?q=a&type=artist&limit=10")
            .await
            .status,
        StatusCode::OK
    );

    let artist = catalog
        .artists()
        .iter()
        .find(|a| a.spotify_id.is_some() && catalog.albums(a.index).len() >= 2)
        .unwrap();
    let id = artist.spotify_id.clone().unwrap();
    let a = spotify(&s, &t, &format!("artists/{id}/albums?limit=15")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["error"]["message"], "Invalid limit");

    let a = spotify(&s, &t, &format!("artists/{id}/top-tracks?market=US")).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        a.json(),
        serde_json::json!({"error": {"status": 403, "message": "Forbidden"}})
    );

    let v = spotify(&s, &t, &format!("artists/{id}")).await.json();
    assert_eq!(v["name"], artist.name.as_str());
    assert!(
        v.get("followers").is_none() && v.get("popularity").is_none(),
        "{v}"
    );

    assert_eq!(
        spotify(&s, &t, "artists/short").await.json()["error"]["message"],
        "invalid id"
    );
    let a = spotify(&s, &t, "artists/0000000000000000000000").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["error"]["message"], "non existing id");

    // Paging: absolute production `next`, `total`, limit 1 walks every album.
    let v = spotify(&s, &t, &format!("artists/{id}/albums?limit=1&market=US"))
        .await
        .json();
    assert_eq!(v["total"], catalog.albums(artist.index).len());
    let next = v["next"].as_str().unwrap();
    assert!(
        next.starts_with(&format!(
            "https://api.spotify.com/v1/artists/{id}/albums?offset=1&limit=1"
        )),
        "{next}"
    );
    let album = v["items"][0]["id"].as_str().unwrap().to_string();
    let tracks = spotify(&s, &t, &format!("albums/{album}/tracks?limit=50"))
        .await
        .json();
    assert!(
        tracks["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("album").is_none())
    );
    assert_eq!(
        spotify(&s, &t, &format!("albums/{album}/tracks?limit=51"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // Exact-name search finds the artist; an artist not on Spotify is never found.
    let url = reqwest::Url::parse_with_params(
        &format!("{}/v1/search", s.spotify_api_base_url()),
        &[
            ("q", artist.name.as_str()),
            ("type", "artist"),
            ("limit", "10"),
        ],
    )
    .unwrap();
    let v = send(reqwest::Client::new().get(url).bearer_auth(&t))
        .await
        .json();
    assert_eq!(v["artists"]["items"][0]["id"], id.as_str());
    let unlisted = catalog
        .artists()
        .iter()
        .find(|a| a.spotify_id.is_none())
        .unwrap();
    let url = reqwest::Url::parse_with_params(
        &format!("{}/v1/search", s.spotify_api_base_url()),
        &[("q", unlisted.name.as_str()), ("type", "artist")],
    )
    .unwrap();
    let v = send(reqwest::Client::new().get(url).bearer_auth(&t))
        .await
        .json();
    assert!(
        v["artists"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != unlisted.name.as_str())
    );

    // The trap name is ambiguous: two exact matches.
    let url = reqwest::Url::parse_with_params(
        &format!("{}/v1/search", s.spotify_api_base_url()),
        &[("q", TRAP_ARTIST_NAME), ("type", "artist")],
    )
    .unwrap();
    let v = send(reqwest::Client::new().get(url).bearer_auth(&t))
        .await
        .json();
    assert_eq!(v["artists"]["total"], 2);
    let v = spotify(
        &s,
        &t,
        &format!("artists/{TRAP_SPOTIFY_ARTIST_ID}/albums?limit=10&include_groups=album,single"),
    )
    .await
    .json();
    assert!(
        v["next"].is_string(),
        "the trap artist's releases take two pages"
    );
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["release_date"] == "1981")
    );
}

#[tokio::test]
async fn spotify_extended_profile_has_top_tracks_and_followers() {
    let s = start(FakeConfig {
        profile: Profile::Extended,
        ..config()
    })
    .await;
    let t = token(&s).await;
    let catalog = s.catalog().clone();
    let artist = catalog
        .artists()
        .iter()
        .find(|a| a.spotify_id.is_some() && !catalog.albums(a.index).is_empty())
        .unwrap();
    let id = artist.spotify_id.clone().unwrap();
    let a = spotify(&s, &t, &format!("artists/{id}/top-tracks?market=US")).await;
    assert_eq!(a.status, StatusCode::OK);
    let tracks = a.json()["tracks"].as_array().unwrap().clone();
    assert!(!tracks.is_empty() && tracks.len() <= 10);
    assert!(tracks[0]["album"]["id"].is_string() && tracks[0]["popularity"].is_number());
    let v = spotify(&s, &t, &format!("artists/{id}")).await.json();
    assert_eq!(v["followers"]["total"], artist.followers);
    assert_eq!(v["popularity"], artist.popularity);
    assert_eq!(
        spotify(&s, &t, "search?q=a&type=artist&limit=50")
            .await
            .status,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------------
// setlist.fm

#[tokio::test]
async fn setlistfm_wants_a_key_speaks_xml_and_404s_on_empty() {
    let s = start(config()).await;
    let a = get(&format!(
        "{}/search/artists?artistName=a",
        s.setlistfm_base_url()
    ))
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.json(), serde_json::json!({"message": "Forbidden"}));

    let a = setlistfm(&s, "search/artists?artistName=a", false).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body.starts_with("<?xml") && a.body.contains("<artists "),
        "{}",
        &a.body[..200]
    );
    assert!(a.header("content-type").unwrap().contains("xml"));

    let a = setlistfm(&s, "search/artists?artistName=zzzznothingzzzz", true).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let v = a.json();
    assert_eq!(v["code"], 404);
    assert_eq!(v["status"], "Not Found");
    assert_eq!(v["message"], "not found");
    assert!(v["timestamp"].as_str().unwrap().ends_with("+0000"));

    let v = setlistfm(&s, "search/artists?artistName=a", true)
        .await
        .json();
    assert_eq!(v["type"], "artists");
    assert_eq!(v["itemsPerPage"], 30);
    assert!(v["artist"].as_array().unwrap().len() <= 30);
}

#[tokio::test]
async fn setlistfm_pages_setlists_newest_first() {
    let s = start(config()).await;
    let catalog = s.catalog().clone();
    let (artist, setlists) = catalog
        .artists()
        .iter()
        .map(|a| (a, catalog.setlists(a.index)))
        .max_by_key(|(_, s)| s.len())
        .unwrap();
    assert!(setlists.len() >= 5);
    let mbid = artist.musicbrainz_id.clone().unwrap();
    let v = setlistfm(&s, &format!("artist/{mbid}/setlists?p=1"), true)
        .await
        .json();
    assert_eq!(v["type"], "setlists");
    assert_eq!(v["itemsPerPage"], 20);
    assert_eq!(v["page"], 1);
    assert_eq!(v["total"], setlists.len());
    let page = v["setlist"].as_array().unwrap();
    assert_eq!(page.len(), setlists.len().min(20));
    assert_eq!(page[0]["id"], setlists[0].id.as_str());
    let dates: Vec<NaiveDate> = page
        .iter()
        .map(|s| NaiveDate::parse_from_str(s["eventDate"].as_str().unwrap(), "%d-%m-%Y").unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(
        dates.iter().all(|d| *d < anchor()),
        "setlists lie before the anchor"
    );
    assert!(
        page.iter().all(|s| s["sets"]["set"].is_array()),
        "sets.set nesting"
    );
    let last_page = setlists.len().div_ceil(20);
    let a = setlistfm(&s, &format!("artist/{mbid}/setlists?p={last_page}"), true).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = setlistfm(
        &s,
        &format!("artist/{mbid}/setlists?p={}", last_page + 1),
        true,
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = setlistfm(
        &s,
        "artist/00000000-0000-0000-0000-000000000000/setlists?p=1",
        true,
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["code"], 404);

    let v = setlistfm(&s, &format!("artist/{TRAP_MBID}/setlists"), true)
        .await
        .json();
    let list = v["setlist"].as_array().unwrap();
    assert!(
        list.iter()
            .any(|s| s["sets"]["set"].as_array().unwrap().is_empty())
    );
    assert!(list.iter().any(|s| s.get("tour").is_none()));
    assert!(list.iter().any(|s| s["venue"].get("city").is_none()));
    let one = setlistfm(&s, &format!("setlist/{}", setlists[3].id), true)
        .await
        .json();
    assert_eq!(one["id"], setlists[3].id.as_str());
}

// ---------------------------------------------------------------------------------------------
// Limits

#[tokio::test]
async fn bursts_get_each_providers_429() {
    let s = start(FakeConfig {
        tm_rate: Some(Rate::per_second(5)),
        // Long windows for the two that count exactly, so a slow machine cannot refill them
        // mid-burst; Ticketmaster keeps its real 5/s for the faultstring.
        spotify_rate: Some(Rate::new(5, Duration::from_secs(60))),
        setlistfm_rate: Some(Rate::new(2, Duration::from_secs(60))),
        ..config()
    })
    .await;
    let t = token(&s).await;
    let client = reqwest::Client::new();
    let burst =
        |rb: Vec<reqwest::RequestBuilder>| futures::future::join_all(rb.into_iter().map(send));

    let tm_url = tm(&s, "attractions.json?keyword=a");
    let answers = burst((0..20).map(|_| client.get(&tm_url)).collect()).await;
    let refused: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(!refused.is_empty() && refused.len() < 20);
    let v = refused[0].json();
    assert_eq!(
        v["fault"]["detail"]["errorcode"],
        "policies.ratelimit.SpikeArrestViolation"
    );
    assert_eq!(
        v["fault"]["faultstring"],
        "Spike arrest violation. Allowed rate : 5ps"
    );
    assert!(refused[0].header("rate-limit").is_none());

    let sp_url = format!("{}/v1/search?q=a&type=artist", s.spotify_api_base_url());
    let answers = burst(
        (0..20)
            .map(|_| client.get(&sp_url).bearer_auth(&t))
            .collect(),
    )
    .await;
    let refused: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(refused.len(), 15);
    assert_eq!(
        refused[0].json(),
        serde_json::json!({"error": {"status": 429, "message": "API rate limit exceeded"}})
    );
    let retry: u64 = refused[0].header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=60).contains(&retry),
        "seconds until the window frees a slot: {retry}"
    );

    let sf_url = format!("{}/search/artists?artistName=a", s.setlistfm_base_url());
    let key = s.keys().setlistfm_api_key.clone();
    let answers = burst(
        (0..10)
            .map(|_| client.get(&sf_url).header("x-api-key", &key))
            .collect(),
    )
    .await;
    let refused: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(refused.len(), 8);
    assert_eq!(
        refused[0].json(),
        serde_json::json!({"message": "Too Many Requests"})
    );
    assert_eq!(
        refused[0].header("x-amzn-errortype"),
        Some("TooManyRequestsException")
    );
    assert!(refused[0].header("retry-after").is_none());

    let stats = s.stats();
    assert!(stats.ticketmaster.rate_limited > 0 && stats.spotify.rate_limited == 15);
    assert_eq!(
        stats.total_rate_limited(),
        stats.ticketmaster.status(429) + 15 + stats.setlistfm.status(429)
    );
}

#[tokio::test]
async fn daily_quotas_run_out() {
    let s = start(FakeConfig {
        tm_daily: 3,
        setlistfm_daily: 2,
        ..config()
    })
    .await;
    for i in 0..3 {
        let a = get(&tm(&s, "attractions.json?keyword=a")).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(
            a.header("rate-limit-available"),
            Some((2 - i).to_string().as_str())
        );
    }
    let a = get(&tm(&s, "attractions.json?keyword=a")).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let v = a.json();
    assert_eq!(
        v["fault"]["detail"]["errorcode"],
        "policies.ratelimit.QuotaViolation"
    );
    assert_eq!(
        v["fault"]["faultstring"],
        format!(
            "Rate limit quota violation. Quota limit  exceeded. Identifier : {}",
            s.keys().ticketmaster_api_key
        )
    );
    for _ in 0..2 {
        assert_eq!(
            setlistfm(&s, "search/artists?artistName=a", true)
                .await
                .status,
            StatusCode::OK
        );
    }
    let a = setlistfm(&s, "search/artists?artistName=a", true).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.header("retry-after").is_none());
}

// ---------------------------------------------------------------------------------------------
// Determinism, faults, stats

#[tokio::test]
async fn same_seed_serves_the_same_bytes() {
    let a = start(config()).await;
    let b = start(config()).await;
    let artist = a.catalog().artists()[DEEP_PAGING_ARTIST]
        .ticketmaster_id
        .clone();
    for path in [
        format!("events.json?attractionId={artist}&size=50&page=2&sort=id,asc"),
        "events.json?size=20&page=3".to_string(),
        "attractions.json?keyword=the&size=30".to_string(),
    ] {
        let x = get(&tm(&a, &path)).await;
        let y = get(&tm(&b, &path)).await;
        assert_eq!(x.status, StatusCode::OK);
        assert_eq!(x.body, y.body, "{path}");
    }
    let x = setlistfm(&a, &format!("artist/{TRAP_MBID}/setlists"), false).await;
    let y = setlistfm(&b, &format!("artist/{TRAP_MBID}/setlists"), false).await;
    assert_eq!(x.body, y.body);
}

fn faulty(rates: FaultRates) -> FakeConfig {
    FakeConfig {
        faults: FaultSpec::uniform(rates).with_seed(7),
        ..config()
    }
}

#[tokio::test]
async fn faults_at_rate_one_always_fire() {
    let url = |s: &FakeServer| tm(s, "attractions.json?keyword=a&size=5");

    let s = start(faulty(FaultRates {
        server_error: 1.0,
        ..FaultRates::default()
    }))
    .await;
    for _ in 0..5 {
        let a = get(&url(&s)).await;
        assert!([500, 502, 503].contains(&a.status.as_u16()));
        assert!(a.header("content-type").unwrap().starts_with("text/html"));
        assert!(a.body.starts_with("<html><body><h1>5"), "{}", a.body);
    }
    let a = setlistfm(&s, "search/artists?artistName=a", true).await;
    assert!(a.status.is_server_error());

    let s = start(faulty(FaultRates {
        rate_limit: 1.0,
        ..FaultRates::default()
    }))
    .await;
    let a = get(&url(&s)).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        a.json()["fault"]["detail"]["errorcode"],
        "policies.ratelimit.SpikeArrestViolation"
    );
    let a = send(
        reqwest::Client::new()
            .post(format!("{}/api/token", s.spotify_accounts_base_url()))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.header("retry-after"), Some("1"));
    let a = setlistfm(&s, "search/artists?artistName=a", true).await;
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("TooManyRequestsException")
    );

    let clean = start(config()).await;
    let whole = get(&url(&clean)).await.body;

    let s = start(faulty(FaultRates {
        malformed: 1.0,
        ..FaultRates::default()
    }))
    .await;
    let a = get(&url(&s)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&a.body).is_err());
    // Errors are not spoiled: only a 200 that does not parse is the fault.
    assert_eq!(
        get(&tm(&s, "events.json?size=500")).await.json()["errors"][0]["code"],
        "DIS1036"
    );

    let s = start(faulty(FaultRates {
        truncated: 1.0,
        ..FaultRates::default()
    }))
    .await;
    let a = get(&url(&s)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&a.body).is_err());
    assert!(whole.starts_with(&a.body) && a.body.len() < whole.len());

    let s = start(faulty(FaultRates {
        drop: 1.0,
        ..FaultRates::default()
    }))
    .await;
    let e = reqwest::Client::new().get(url(&s)).send().await;
    assert!(e.is_err(), "the connection is closed without an answer");
    assert_eq!(s.stats().ticketmaster.dropped, 1);

    let s = start(faulty(FaultRates {
        slow: 1.0,
        slow_delay: Duration::from_millis(1000),
        ..FaultRates::default()
    }))
    .await;
    let t0 = Instant::now();
    let r = reqwest::Client::new().get(url(&s)).send().await.unwrap();
    let headers_at = t0.elapsed();
    let body = r.text().await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert!(
        headers_at < Duration::from_millis(300),
        "headers first, then the stall"
    );
    assert_eq!(body, whole);

    let s = start(faulty(FaultRates {
        latency: 1.0,
        latency_delay: Duration::from_millis(250),
        ..FaultRates::default()
    }))
    .await;
    let t0 = Instant::now();
    assert_eq!(get(&url(&s)).await.body, whole);
    assert!(t0.elapsed() >= Duration::from_millis(250));
    assert_eq!(s.stats().ticketmaster.fault("latency"), 1);
}

#[tokio::test]
async fn faults_at_rate_zero_never_fire() {
    let s = start(FakeConfig {
        faults: "latency=0,429=0,5xx=0,malformed=0,truncated=0,drop=0,slow=0"
            .parse()
            .unwrap(),
        ..config()
    })
    .await;
    for _ in 0..30 {
        let a = get(&tm(&s, "attractions.json?keyword=a&size=5")).await;
        assert_eq!(a.status, StatusCode::OK);
        a.json();
    }
    let stats = s.stats();
    assert_eq!(stats.ticketmaster.success, 30);
    assert!(stats.ticketmaster.faults.is_empty());
}

#[tokio::test]
async fn stats_count_per_provider_endpoint_and_target() {
    let s = start(config()).await;
    let catalog = s.catalog().clone();
    let artist = &catalog.artists()[3];
    get(&tm(
        &s,
        &format!("events.json?attractionId={}", artist.ticketmaster_id),
    ))
    .await;
    get(&tm(
        &s,
        &format!("events.json?attractionId={}&page=1", artist.ticketmaster_id),
    ))
    .await;
    get(&tm(&s, "events/nope.json")).await;
    let t = token(&s).await;
    let id = artist.spotify_id.clone().unwrap();
    spotify(&s, &t, &format!("artists/{id}")).await;
    setlistfm(&s, "search/artists?artistName=zzzz", true).await;

    let stats = s.stats();
    assert_eq!(stats.ticketmaster.requests, 3);
    assert_eq!(stats.ticketmaster.success, 2);
    assert_eq!(stats.ticketmaster.status(404), 1);
    assert_eq!(stats.ticketmaster.endpoint(endpoints::TM_EVENTS), 2);
    assert_eq!(
        stats
            .ticketmaster
            .target(endpoints::TM_EVENTS, &artist.ticketmaster_id),
        2
    );
    assert_eq!(stats.spotify.endpoint(endpoints::SPOTIFY_TOKEN), 1);
    assert_eq!(stats.spotify.target(endpoints::SPOTIFY_ARTIST, &id), 1);
    assert_eq!(stats.setlistfm.status(404), 1);
    assert_eq!(stats.total_requests(), 6);
    assert_eq!(stats.total_rate_limited(), 0);
    s.reset_stats();
    assert_eq!(s.stats().total_requests(), 0);
}

#[tokio::test]
async fn refuses_to_bind_beyond_loopback() {
    let e = fake::start(FakeConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        ..config()
    })
    .await
    .unwrap_err();
    assert!(e.to_string().contains("loopback"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// The binary

#[tokio::test]
async fn the_binary_prints_exports_then_serves() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_syncdeck"))
        .args(["fake", "--addr", "127.0.0.1:0", "--artists", "50"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut vars = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let (name, value) = line.split_once('=').expect("NAME=value");
            vars.push((name.to_string(), value.to_string()));
            if name == "SETLISTFM_API_KEY" {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the exports within a minute");
    let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "TICKETMASTER_BASE_URL",
            "SPOTIFY_API_BASE_URL",
            "SPOTIFY_ACCOUNTS_BASE_URL",
            "SETLISTFM_BASE_URL",
            "TICKETMASTER_API_KEY",
            "SPOTIFY_CLIENT_ID",
            "SPOTIFY_CLIENT_SECRET",
            "SETLISTFM_API_KEY"
        ]
    );
    let var = |n: &str| vars.iter().find(|(k, _)| k == n).unwrap().1.clone();
    let tm_base = var("TICKETMASTER_BASE_URL");
    assert!(!tm_base.contains(":0/"), "the real port, not 0: {tm_base}");
    assert_eq!(var("TICKETMASTER_API_KEY"), "demo-ticketmaster-key");
    assert_eq!(var("SPOTIFY_CLIENT_ID"), "demo-spotify-id");
    assert_eq!(var("SPOTIFY_CLIENT_SECRET"), "demo-spotify-secret");
    assert_eq!(var("SETLISTFM_API_KEY"), "demo-setlistfm-key");

    let a = get(&format!(
        "{tm_base}/discovery/v2/attractions.json?keyword=a&apikey={}",
        var("TICKETMASTER_API_KEY")
    ))
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.json()["page"]["totalElements"].as_u64().unwrap() > 0);
    let a = setlistfm_raw(&var("SETLISTFM_BASE_URL"), &var("SETLISTFM_API_KEY")).await;
    assert_eq!(a.status, StatusCode::OK);

    // SIGTERM, as `kill` and supervisors send it: a clean stop, exit code 128 + 15 (README).
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("it stops on SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(143));
}

async fn setlistfm_raw(base: &str, key: &str) -> Answer {
    send(
        reqwest::Client::new()
            .get(format!("{base}/search/artists?artistName=a&p=1"))
            .header("x-api-key", key)
            .header("accept", "application/json"),
    )
    .await
}
