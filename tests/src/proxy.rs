//! A TCP proxy in front of an emulator that misbehaves on request, so tests
//! can put real faults between the functions and AWS without any test hook
//! in the functions: a service that stops answering, or one that does the
//! work and loses the answer (a timeout after the request was written).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Everything passes.
    None = 0,
    /// Requests go nowhere and nothing comes back: a stalled service.
    Stall = 1,
    /// Requests reach the service, which acts on them; its answers are
    /// dropped, so the caller times out not knowing what happened.
    LoseAnswers = 2,
}

impl Fault {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Stall,
            2 => Self::LoseAnswers,
            _ => Self::None,
        }
    }
}

/// Arms `fault` on `target` once a request containing `marker` has been
/// answered through this proxy.
struct Trigger {
    marker: String,
    fault: Fault,
    target: Arc<AtomicU8>,
}

#[derive(Clone)]
pub struct FaultyProxy {
    pub url: String,
    fault: Arc<AtomicU8>,
    trigger: Arc<Mutex<Option<Trigger>>>,
}

impl FaultyProxy {
    /// Listens on a free loopback port and forwards to `upstream`
    /// (`http://127.0.0.1:PORT`).
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = Self {
            url,
            fault: Arc::new(AtomicU8::new(Fault::None as u8)),
            trigger: Arc::new(Mutex::new(None)),
        };
        let accepting = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(accepting.clone().pipe(client, server));
            }
        });
        proxy
    }

    /// From now on, every request meets `fault`.
    pub fn fail(&self, fault: Fault) {
        self.fault.store(fault as u8, Ordering::SeqCst);
    }

    pub fn heal(&self) {
        self.fail(Fault::None);
    }

    /// Once a request containing `marker` (e.g. an operation name) has been
    /// answered through this proxy, `target` starts failing with `fault`.
    pub fn fail_after(&self, marker: &str, target: &FaultyProxy, fault: Fault) {
        *self.trigger.lock().unwrap() = Some(Trigger {
            marker: marker.to_string(),
            fault,
            target: target.fault.clone(),
        });
    }

    fn current(&self) -> Fault {
        Fault::from_u8(self.fault.load(Ordering::SeqCst))
    }

    async fn pipe(self, client: TcpStream, server: TcpStream) {
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let marked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let upstream = {
            let proxy = self.clone();
            let marked = marked.clone();
            async move {
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let Ok(n) = client_read.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    let chunk = &buffer[..n];
                    if let Some(trigger) = proxy.trigger.lock().unwrap().as_ref() {
                        let text = String::from_utf8_lossy(chunk);
                        if text.contains(&trigger.marker) {
                            marked.store(true, Ordering::SeqCst);
                        }
                    }
                    if proxy.current() == Fault::Stall {
                        continue;
                    }
                    if server_write.write_all(chunk).await.is_err() {
                        return;
                    }
                }
            }
        };
        let downstream = {
            let proxy = self.clone();
            async move {
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let n = server_read.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 {
                        if proxy.current() != Fault::None {
                            // Keep the caller's connection open: it waits
                            // for an answer that never comes, until it times out.
                            std::future::pending::<()>().await;
                        }
                        return;
                    }
                    if proxy.current() != Fault::None {
                        continue;
                    }
                    if client_write.write_all(&buffer[..n]).await.is_err() {
                        return;
                    }
                    if marked.swap(false, Ordering::SeqCst) {
                        if let Some(trigger) = proxy.trigger.lock().unwrap().take() {
                            trigger.target.store(trigger.fault as u8, Ordering::SeqCst);
                        }
                    }
                }
            }
        };
        // The connection ends when either side does (a caller that gave up
        // closes its end).
        tokio::select! {
            () = upstream => {}
            () = downstream => {}
        }
    }
}
