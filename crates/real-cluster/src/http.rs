//! A small HTTP/1.1 server on 127.0.0.1 for the cluster's sources: `/git/...` runs Debian's
//! `git http-backend` (the smart HTTP protocol source-controller clones with) as a CGI program
//! over a directory of bare repositories, and every other path is a file from a static directory
//! (the Helm chart repository: `index.yaml` and packaged charts). One thread per connection, one
//! request per connection; stopped on drop.

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The running server.
#[derive(Debug)]
pub struct SourceServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct Roots {
    git: PathBuf,
    files: PathBuf,
}

impl SourceServer {
    /// Serves bare repositories under `git_root` at `/git/<name>.git` and `files_root` at `/`.
    pub fn start(git_root: &Path, files_root: &Path) -> anyhow::Result<SourceServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let roots = Arc::new(Roots { git: git_root.to_path_buf(), files: files_root.to_path_buf() });
        let stopping = stop.clone();
        let thread = std::thread::Builder::new().name("real-cluster-http".into()).spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let roots = roots.clone();
                let _ = std::thread::Builder::new().name("real-cluster-http-conn".into()).spawn(move || {
                    let _ = serve(conn, &roots);
                });
            }
        })?;
        Ok(SourceServer { addr, stop, thread: Some(thread) })
    }

    /// The base URL, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SourceServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_request(conn: &TcpStream) -> anyhow::Result<Request> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Request { method, path, query, headers, body: Vec::new() };
    if req.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)?;
            if size == 0 {
                let mut end = String::new();
                reader.read_line(&mut end)?;
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            chunk.truncate(size);
            req.body.extend(chunk);
        }
    } else if let Some(len) = req.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        req.body = body;
    }
    Ok(req)
}

fn serve(mut conn: TcpStream, roots: &Roots) -> anyhow::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let req = read_request(&conn)?;
    let (status, headers, body) = if let Some(rest) = req.path.strip_prefix("/git/") {
        git(&req, rest, &roots.git)?
    } else {
        file(&req, &roots.files)
    };
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(&body)?;
    conn.flush()?;
    Ok(())
}

type Response = (String, Vec<(String, String)>, Vec<u8>);

fn not_found() -> Response {
    ("404 Not Found".into(), vec![("Content-Type".into(), "text/plain".into())], b"not found\n".to_vec())
}

/// A path below `root` with no `..`, or None.
fn safe_join(root: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel.trim_start_matches('/'));
    rel.components().all(|c| matches!(c, Component::Normal(_))).then(|| root.join(rel))
}

fn file(req: &Request, root: &Path) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        return ("405 Method Not Allowed".into(), vec![], Vec::new());
    }
    let Some(path) = safe_join(root, &req.path) else { return not_found() };
    match std::fs::read(&path) {
        Ok(body) => {
            let kind = if req.path.ends_with(".yaml") { "application/yaml" } else { "application/octet-stream" };
            ("200 OK".into(), vec![("Content-Type".into(), kind.into())], body)
        }
        Err(_) => not_found(),
    }
}

/// Runs `git http-backend` for one request (CGI: environment in, headers and body out).
fn git(req: &Request, rest: &str, root: &Path) -> anyhow::Result<Response> {
    if safe_join(root, rest).is_none() {
        return Ok(not_found());
    }
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", format!("/{rest}"))
        .env("QUERY_STRING", &req.query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_TYPE", req.header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(encoding) = req.header("content-encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", encoding);
    }
    if let Some(protocol) = req.header("git-protocol") {
        cmd.env("GIT_PROTOCOL", protocol);
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let body = req.body.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output()?;
    let _ = writer.join();
    let text = out.stdout;
    let split = text.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    let split = split.or_else(|| text.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((at, sep)) = split else {
        return Ok(("500 Internal Server Error".into(), vec![], b"git http-backend failed\n".to_vec()));
    };
    let mut status = "200 OK".to_string();
    let mut headers = Vec::new();
    for line in String::from_utf8_lossy(&text[..at]).lines() {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("status") {
                status = v.to_string();
            } else {
                headers.push((k.to_string(), v.to_string()));
            }
        }
    }
    Ok((status, headers, text[at + sep..].to_vec()))
}
