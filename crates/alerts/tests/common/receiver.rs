//! An HTTP server on loopback that records every request (path, headers,
//! JSON body, arrival time) and answers from a script: 200 unless told to
//! answer a status (with a Retry-After), or to hold the answer for a while
//! (so a test can kill the sender mid-request). Shared with the CLI tests.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// 429 with `Retry-After: seconds`.
    TooManyRequests(u64),
    /// Answer 200 after this long.
    Hold(Duration),
}

#[derive(Default)]
struct State {
    recorded: Vec<Recorded>,
    script: HashMap<String, VecDeque<Answer>>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next requests to `path` get these answers, in order.
    pub fn script(&self, path: &str, answers: &[Answer]) {
        let mut state = self.state.lock().unwrap();
        state
            .script
            .entry(path.to_string())
            .or_default()
            .extend(answers.iter().cloned());
    }

    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        let state = self.state.lock().unwrap();
        state
            .recorded
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` has had `n` requests, or panics after `within`.
    pub async fn wait_for(&self, path: &str, n: usize, within: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.requests(path);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: {} request(s) after {within:?}, expected {n}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let headers = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let answer = {
        let mut state = state.lock().unwrap();
        state.recorded.push(Recorded {
            path: path.clone(),
            headers,
            body,
            at: Instant::now(),
        });
        state.script.get_mut(&path).and_then(VecDeque::pop_front)
    };
    let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
    match answer {
        None => {}
        Some(Answer::Status(code)) => {
            *response.status_mut() = StatusCode::from_u16(code).unwrap();
            *response.body_mut() = Full::new(Bytes::from(format!("scripted {code}")));
        }
        Some(Answer::TooManyRequests(seconds)) => {
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            response
                .headers_mut()
                .insert("retry-after", seconds.to_string().parse().unwrap());
        }
        Some(Answer::Hold(time)) => tokio::time::sleep(time).await,
    }
    Ok(response)
}
